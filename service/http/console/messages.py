"""The core pages' strings, English and Spanish side by side (i18n.py says why a dict).

Each page group may keep its own table like this one (``messages_stock.py``...); i18n.py
merges them, and a unit test checks that every key has both languages.
"""

from __future__ import annotations

CORE: dict[str, tuple[str, str]] = {
    "app.name": ("Ledger", "Libro"),
    "skip": ("Skip to content", "Ir al contenido"),
    "nav.label": ("Sections", "Secciones"),
    "nav.sales": ("Sales", "Ventas"),
    "nav.stock": ("Stock", "Existencias"),
    "nav.products": ("Products", "Productos"),
    "nav.deliveries": ("Deliveries", "Entregas"),
    "nav.reconcile": ("Reconcile", "Conciliar"),
    "nav.integrations": ("Integrations", "Integraciones"),
    "nav.signout": ("Sign out", "Cerrar sesión"),
    "lang.label": ("Language", "Idioma"),
    "lang.switch": ("Switch", "Cambiar"),
    "login.title": ("Sign in", "Iniciar sesión"),
    "login.api_key": ("API key", "API key"),
    "login.help": (
        "The API key printed by `ledger users create` (it starts with key_).",
        "La API key que imprimió `ledger users create` (empieza por key_).",
    ),
    "login.submit": ("Sign in", "Entrar"),
    "login.failed": ("That API key is not valid.", "Esa API key no es válida."),
    "login.limited": (
        "Too many attempts. Try again in {seconds} seconds.",
        "Demasiados intentos. Vuelva a intentarlo en {seconds} segundos.",
    ),
    "login.expired": (
        "Your session has ended. Sign in again.",
        "Su sesión ha terminado. Inicie sesión de nuevo.",
    ),
    "login.signed_out": ("You are signed out.", "Ha cerrado la sesión."),
    "error.title": ("Something is wrong", "Algo no va bien"),
    "error.csrf": (
        "This form has expired or did not come from this console."
        " Go back, reload the page and send it again.",
        "Este formulario ha caducado o no viene de esta consola."
        " Vuelva atrás, recargue la página y envíelo de nuevo.",
    ),
    "error.not_found": ("There is nothing here.", "Aquí no hay nada."),
    "error.back": ("Back to sales", "Volver a ventas"),
    "sales.title": ("Sales", "Ventas"),
    "sales.filters": ("Filters", "Filtros"),
    "sales.platform": ("Platform", "Plataforma"),
    "sales.status": ("Status", "Estado"),
    "sales.any": ("Any", "Cualquiera"),
    "sales.from": ("From", "Desde"),
    "sales.to": ("To", "Hasta"),
    "sales.search": ("Order id or customer email", "Id de pedido o email del cliente"),
    "sales.apply": ("Apply", "Aplicar"),
    "sales.clear": ("Clear", "Quitar"),
    "sales.none": ("No sales match.", "Ninguna venta coincide."),
    "sales.date": ("Recorded", "Registrada"),
    "sales.order": ("Order", "Pedido"),
    "sales.customer": ("Customer", "Cliente"),
    "sales.lines": ("Lines", "Líneas"),
    "sales.total": ("Total", "Total"),
    "sales.refunded": ("Refunded", "Reembolsado"),
    "sales.net": ("Net", "Neto"),
    "sales.next": ("Older sales", "Ventas anteriores"),
    "sales.first": ("Newest sales", "Ventas más recientes"),
    "sales.totals": ("Totals for these filters", "Totales con estos filtros"),
    "sales.currency": ("Currency", "Moneda"),
    "sales.orders": ("Orders", "Pedidos"),
    "sales.gross": ("Gross", "Bruto"),
    "sales.cancelled": ("Cancelled (count for nothing)", "Canceladas (no cuentan)"),
    "sales.deleted": ("deleted on the platform", "borrado en la plataforma"),
    "status.pending": ("pending", "pendiente"),
    "status.sale": ("sale", "venta"),
    "status.cancelled": ("cancelled", "cancelada"),
    "status.refunded": ("refunded", "reembolsada"),
}
