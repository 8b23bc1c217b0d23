// The console's only script: copy buttons. Every page works without it.
"use strict";
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source || !navigator.clipboard) return;
  event.preventDefault();
  navigator.clipboard.writeText(source.textContent.trim()).then(() => {
    button.dataset.done = "1";
    button.textContent = button.dataset.copied || button.textContent;
  });
});
