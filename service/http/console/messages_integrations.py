"""The Integrations tab's strings, English and Spanish (see messages.py)."""

from __future__ import annotations

INTEGRATIONS: dict[str, tuple[str, str]] = {
    "int.title": ("Integrations", "Integraciones"),
    "int.help": (
        "Point each store at its webhook URL, send the test, then open Sales.",
        "Configure cada tienda con su URL de webhook, envíe la prueba y abra Ventas.",
    ),
    "int.ep.woocommerce.order": ("WooCommerce orders", "Pedidos de WooCommerce"),
    "int.ep.woocommerce.product": ("WooCommerce products", "Productos de WooCommerce"),
    "int.ep.shopify.order": ("Shopify orders", "Pedidos de Shopify"),
    "int.url": ("Webhook URL", "URL del webhook"),
    "int.reveal": ("Reveal the token", "Mostrar el token"),
    "int.copy": ("Copy", "Copiar"),
    "int.copied": ("Copied", "Copiado"),
    "int.masked": (
        "The token is hidden; reveal it to copy the URLs.",
        "El token está oculto; muéstrelo para copiar las URL.",
    ),
    "int.revealed": (
        "The token is shown on this page only: reload it to hide the token again.",
        "El token se muestra solo en esta página: recárguela para ocultarlo.",
    ),
    "int.rotated": (
        "New token: this is the only time it is shown. The old URLs stop working now:"
        " update your stores.",
        "Token nuevo: solo se muestra esta vez. Las URL anteriores dejan de funcionar ya:"
        " actualice sus tiendas.",
    ),
    "int.not_revealable": (
        "This token cannot be shown again (it was made before the console, or by a ledger"
        " without this service's key). Rotate it to get a new URL.",
        "Este token no se puede volver a mostrar (se creó antes de la consola o con un ledger"
        " sin la clave de este servicio). Rótelo para obtener una URL nueva.",
    ),
    "int.curl": ("Send the test", "Enviar la prueba"),
    "int.curl_help": (
        "The test from the docs, with your URL: run it, then open Sales and see Jane Doe.",
        "La prueba de la documentación, con su URL: ejecútela y abra Ventas para ver a Jane Doe.",
    ),
    "int.last": ("Last delivery", "Última entrega"),
    "int.never": ("No delivery yet.", "Todavía ninguna entrega."),
    # Every outcome the delivery log records (service/store/migrations/0008_deliveries.sql).
    "int.outcome.recorded": ("recorded", "registrada"),
    "int.outcome.updated": ("updated", "actualizada"),
    "int.outcome.duplicate": ("duplicate", "duplicada"),
    "int.outcome.stale": ("older than what the ledger has", "anterior a lo registrado"),
    "int.outcome.deleted": ("deleted", "eliminada"),
    "int.outcome.restored": ("restored", "restaurada"),
    "int.outcome.received": ("received", "recibida"),
    "int.outcome.product_updated": ("product updated", "producto actualizado"),
    "int.outcome.ping": ("ping", "ping"),
    "int.outcome.quarantined": ("quarantined", "en cuarentena"),
    "int.outcome.not_kept": ("not kept (inbox full)", "no guardada (bandeja llena)"),
    "int.outcome.invalid_signature": ("invalid signature", "firma no válida"),
    "int.outcome.spooled": (
        "kept until the database is back",
        "guardada hasta que vuelva la base de datos",
    ),
    "int.outcome.queued": ("queued", "en cola"),
    "int.outcome.unavailable": (
        "refused: database away, spool full",
        "rechazada: sin base de datos y cola llena",
    ),
    "int.platform.woocommerce": ("WooCommerce", "WooCommerce"),
    "int.platform.shopify": ("Shopify", "Shopify"),
    "int.secret": ("Signing secret", "Secreto de firma"),
    "int.secret_set": (
        "Set since {when}: deliveries must be signed.",
        "Configurado desde {when}: las entregas deben venir firmadas.",
    ),
    "int.secret_none": (
        "None: the token alone authenticates deliveries (they are unverified).",
        "Ninguno: solo el token autentica las entregas (sin verificar).",
    ),
    "int.previous": (
        "The previous secret still verifies until {when}.",
        "El secreto anterior sigue verificando hasta {when}.",
    ),
    "int.secret_new": ("New signing secret", "Nuevo secreto de firma"),
    "int.secret_save": ("Save the secret", "Guardar el secreto"),
    "int.secret_clear": ("Clear the secret", "Quitar el secreto"),
    "int.store": ("Bound store", "Tienda vinculada"),
    "int.store_none": (
        "None yet: the first delivery that names its store binds it.",
        "Ninguna todavía: la primera entrega que nombre su tienda la vincula.",
    ),
    "int.bound_at": ("since {when}", "desde {when}"),
    "int.unbind": ("Unbind the store", "Desvincular la tienda"),
    "int.api": ("Store API (backfill)", "API de la tienda (recuperación)"),
    "int.api_none": (
        "Not connected: orders the webhooks miss are not pulled from the store.",
        "Sin conectar: los pedidos que los webhooks no entregan no se recuperan de la tienda.",
    ),
    "int.api_key": ("key {prefix}", "clave {prefix}"),
    "int.api_last": ("Last backfill", "Última recuperación"),
    "int.api_never": ("not yet", "todavía ninguna"),
    "int.api_high_water": (
        "Everything changed up to {when} is in the ledger.",
        "Todo lo modificado hasta {when} está en el libro.",
    ),
    "int.api_failing": (
        "The last {n} run(s) failed:",
        "Las últimas {n} ejecuciones fallaron:",
    ),
    "int.api_backfill": ("Backfill now", "Recuperar ahora"),
    "int.api_disconnect": ("Disconnect the store API", "Desconectar la API de la tienda"),
    "int.api_help.woocommerce": (
        "A read-only REST API key from WooCommerce (Settings, Advanced, REST API). The secret"
        " is kept encrypted and never shown again.",
        "Una clave de la API REST de WooCommerce de solo lectura (Ajustes, Avanzado, API"
        " REST). El secreto se guarda cifrado y no se vuelve a mostrar.",
    ),
    "int.api_help.shopify": (
        "An Admin API access token of a custom app with read access to orders and products."
        " It is kept encrypted and never shown again.",
        "Un token de acceso a la Admin API de una app personalizada con lectura de pedidos y"
        " productos. Se guarda cifrado y no se vuelve a mostrar.",
    ),
    "int.api_url": ("Store URL", "URL de la tienda"),
    "int.api_consumer_key": ("Consumer key", "Clave de cliente"),
    "int.api_consumer_secret": ("Consumer secret", "Secreto de cliente"),
    "int.api_shop": ("Shop domain", "Dominio de la tienda"),
    "int.api_token": ("Admin API access token", "Token de acceso a la Admin API"),
    "int.api_connect": ("Connect the store API", "Conectar la API de la tienda"),
    "int.api_replace": ("Replace the connection", "Reemplazar la conexión"),
    "int.rotations": ("Rotate secrets", "Rotar secretos"),
    "int.rotate_token": ("Rotate the webhook token", "Rotar el token del webhook"),
    "int.rotate_token_help": (
        "A new token and new URLs; the old ones stop working at once.",
        "Un token y URL nuevos; los anteriores dejan de funcionar al instante.",
    ),
    "int.rotate_key": ("Rotate the API key", "Rotar la API key"),
    "int.rotate_key_help": (
        "A new API key; the old one stops working and you sign in again with the new one.",
        "Una API key nueva; la anterior deja de funcionar y vuelve a entrar con la nueva.",
    ),
    "done.secret_set": ("The signing secret is saved.", "El secreto de firma está guardado."),
    "done.secret_cleared": ("The signing secret is cleared.", "El secreto de firma se ha quitado."),
    "done.unbound": ("The store is unbound.", "La tienda está desvinculada."),
    "done.not_bound": ("No store was bound.", "No había ninguna tienda vinculada."),
    "done.connected": (
        "The store API is connected; its secret is kept encrypted.",
        "La API de la tienda está conectada; su secreto se guarda cifrado.",
    ),
    "done.disconnected": (
        "The store API is disconnected; its secret is gone.",
        "La API de la tienda está desconectada; su secreto se ha borrado.",
    ),
    "done.not_connected": (
        "No store API was connected.",
        "No había ninguna API de tienda conectada.",
    ),
    "done.backfill_started": (
        "The backfill is running: reload this page to see how it went.",
        "La recuperación está en marcha: recargue esta página para ver el resultado.",
    ),
    "done.backfill_running": (
        "A backfill of this store is already running.",
        "Ya hay una recuperación de esta tienda en marcha.",
    ),
    "confirm.title": ("Are you sure?", "¿Está seguro?"),
    "confirm.token": (
        "Rotate the webhook token? Every store must then be given the new URLs: until then"
        " their deliveries are refused (401).",
        "¿Rotar el token del webhook? Cada tienda necesitará las URL nuevas: hasta entonces"
        " sus entregas se rechazan (401).",
    ),
    "confirm.api_key": (
        "Rotate the API key? Everything using the old one stops working, and you sign in"
        " again with the new one.",
        "¿Rotar la API key? Todo lo que use la anterior deja de funcionar y vuelve a entrar"
        " con la nueva.",
    ),
    "confirm.yes": ("Yes, rotate", "Sí, rotar"),
    "confirm.no": ("Cancel", "Cancelar"),
    "newkey.title": ("Your new API key", "Su nueva API key"),
    "newkey.help": (
        "Shown this once: store it now. The old key no longer works; sign in with this one.",
        "Se muestra solo esta vez: guárdela ya. La anterior ya no funciona; entre con esta.",
    ),
    "newkey.signin": ("Sign in again", "Entrar de nuevo"),
}
