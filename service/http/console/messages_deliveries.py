"""The delivery log and reconcile pages' strings, English and Spanish (see messages.py)."""

from __future__ import annotations

DELIVERIES: dict[str, tuple[str, str]] = {
    "platform.woocommerce": ("WooCommerce", "WooCommerce"),
    "platform.shopify": ("Shopify", "Shopify"),
    "deliveries.title": ("Deliveries", "Entregas"),
    "deliveries.silent": (
        "Nothing from {platform} for {hours} hours.",
        "Nada de {platform} desde hace {hours} horas.",
    ),
    "deliveries.silent_last": ("The last delivery:", "La última entrega:"),
    "deliveries.filters": ("Filters", "Filtros"),
    "deliveries.outcome": ("Outcome", "Resultado"),
    "deliveries.pages": ("Pages", "Páginas"),
    "deliveries.platform": ("Platform", "Plataforma"),
    "deliveries.topic": ("Topic", "Tema"),
    "deliveries.from": ("From", "Desde"),
    "deliveries.to": ("To", "Hasta"),
    "deliveries.any": ("Any", "Cualquiera"),
    "deliveries.apply": ("Apply", "Aplicar"),
    "deliveries.clear": ("Clear", "Quitar"),
    "deliveries.received": ("Received", "Recibida"),
    "deliveries.status": ("Answer", "Respuesta"),
    "deliveries.touched": ("Touched", "Afectó a"),
    "deliveries.sale": ("sale", "venta"),
    "deliveries.in_inbox": ("kept in the inbox", "guardada en la bandeja"),
    "deliveries.none": ("No deliveries match.", "Ninguna entrega coincide."),
    "deliveries.next": ("Older deliveries", "Entregas anteriores"),
    "deliveries.first": ("Newest deliveries", "Entregas más recientes"),
    "delivery.title": ("Delivery {id}", "Entrega {id}"),
    "delivery.back": ("Back to deliveries", "Volver a entregas"),
    "delivery.duration": ("Answered in", "Respondida en"),
    "delivery.verification": ("Verification", "Verificación"),
    "delivery.sha256": ("Body sha256", "sha256 del cuerpo"),
    "delivery.body_not_kept": ("(body not kept)", "(cuerpo no guardado)"),
    "delivery.body_in_inbox": ("(body kept in the inbox)", "(cuerpo guardado en la bandeja)"),
    "delivery.size": ("Size", "Tamaño"),
    "delivery.bytes": ("{n} bytes", "{n} bytes"),
    "delivery.ids": ("Platform ids", "Ids de la plataforma"),
    "delivery.store": ("Store", "Tienda"),
    "delivery.positions": ("Log positions", "Posiciones en el registro"),
    "delivery.headers": ("Headers", "Cabeceras"),
    "delivery.header": ("Header", "Cabecera"),
    "delivery.value": ("Value", "Valor"),
    "delivery.no_headers": ("No headers are kept for it.", "No se guardan cabeceras."),
    "delivery.inbox": ("In the inbox", "En la bandeja"),
    "delivery.inbox_state": ("State", "Estado"),
    "delivery.inbox_reason": ("Why it was kept", "Por qué se guardó"),
    "delivery.reprocessed_at": ("Reprocessed", "Reprocesada"),
    "delivery.became": ("What became of it", "Qué fue de ella"),
    "delivery.reprocess": ("Reprocess…", "Reprocesar…"),
    "delivery.dismiss": ("Dismiss…", "Descartar…"),
    "delivery.cancel": ("Cancel", "Cancelar"),
    "delivery.confirm_reprocess": ("Reprocess this delivery?", "¿Reprocesar esta entrega?"),
    "delivery.confirm_reprocess_text": (
        "It is run again with the current code and settings (a signing secret set since,"
        " say). If it can be used now it goes into the ledger; if not, it stays here.",
        "Se procesa de nuevo con el código y los ajustes actuales (un secreto de firma"
        " puesto después, por ejemplo). Si ahora se puede usar, entra en el libro;"
        " si no, se queda aquí.",
    ),
    "delivery.reprocess_yes": ("Yes, reprocess it", "Sí, reprocesarla"),
    "delivery.confirm_dismiss": ("Dismiss this delivery?", "¿Descartar esta entrega?"),
    "delivery.confirm_dismiss_text": (
        "Its kept body is deleted from the inbox and it never goes into the ledger."
        " The delivery log keeps its line.",
        "Su cuerpo guardado se borra de la bandeja y nunca entra en el libro."
        " El registro de entregas conserva su línea.",
    ),
    "delivery.dismiss_yes": ("Yes, dismiss it", "Sí, descartarla"),
    "delivery.done_recorded": (
        "Reprocessed: it is in the ledger now.",
        "Reprocesada: ya está en el libro.",
    ),
    "delivery.done_still": (
        "Reprocessed, but it still cannot be used: it stays in the inbox.",
        "Reprocesada, pero aún no se puede usar: sigue en la bandeja.",
    ),
    "delivery.done_dismissed": ("Dismissed.", "Descartada."),
    "inbox.state_open": ("waiting", "pendiente"),
    "inbox.state_seen": ("seen", "vista"),
    "inbox.state_reprocessed": ("reprocessed", "reprocesada"),
    "reconcile.title": ("Reconcile", "Conciliar"),
    "reconcile.confirm_title": ("Apply the platform's counts?", "¿Aplicar los recuentos?"),
    "reconcile.help": (
        "Products whose ledger level differs from the count their platform last reported."
        " Applying adds one adjustment per product that brings it to that count, once per"
        " report.",
        "Productos cuyo nivel en el libro difiere del último recuento de su plataforma."
        " Aplicar añade un ajuste por producto que lo lleva a ese recuento, una vez por"
        " recuento.",
    ),
    "reconcile.ledger": ("Ledger", "Libro"),
    "reconcile.platform": ("Platform's count", "Recuento de la plataforma"),
    "reconcile.by": ("Adjustment", "Ajuste"),
    "reconcile.reported_at": ("Counted", "Contado"),
    "reconcile.apply": ("Apply these counts…", "Aplicar estos recuentos…"),
    "reconcile.confirm_text": (
        "Adjustments to be added: {n}, one per product above.",
        "Ajustes que se añadirán: {n}, uno por producto de la lista.",
    ),
    "reconcile.apply_yes": ("Yes, apply them", "Sí, aplicarlos"),
    "reconcile.cancel": ("Cancel", "Cancelar"),
    "reconcile.done": (
        "Applied: {adjusted} adjusted, {duplicate} already applied, {refused} refused.",
        "Aplicado: {adjusted} ajustados, {duplicate} ya aplicados, {refused} rechazados.",
    ),
    "reconcile.none": (
        "The ledger agrees with every count the platforms reported.",
        "El libro coincide con todos los recuentos de las plataformas.",
    ),
}
