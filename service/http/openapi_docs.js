// Starts Swagger UI on the API's own document. A file of ours, not an inline script: the
// page's Content-Security-Policy allows scripts of this origin only.
"use strict";
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    // No badge fetched from a validator elsewhere: the page talks to this origin only.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
  });
});
