"""What the demo's requesters and agents say: conversations by category, in Spanish and English.

Each story is a case's conversation; the demo fills {first}, {date}, {time}, {new_time}, {pro},
{invoice}, {amount}, {agent}, {number} from the records it links. "ask" is the agent's question
that leaves a case pending, "hold" the note that puts it on hold, "solve" the last reply.
"""

STORIES = (
    # -- booking changes ------------------------------------------------------------------
    {"code": "booking_change", "lang": "es", "needs": "future", "tags": ("cambio-hora",),
     "subject": "Cambiar la hora del servicio del {date}",
     "open": "Hola, tengo una limpieza el {date} a las {time} con {pro}. ¿Podríamos pasarla a "
             "las {new_time}? Ese día trabajo por la mañana. Gracias.\n{first}",
     "reply": "Hola {first}: le confirmamos el cambio. {pro} irá el {date} a las {new_time}. "
              "Si necesita algo más, responda a este correo.\nUn saludo,\n{agent}",
     "answer": "Perfecto, muchísimas gracias.",
     "ask": "Hola {first}: a las {new_time} {pro} no está disponible. ¿Le vendría bien a las "
            "16:00 o prefiere otro día de la misma semana?\n{agent}",
     "note": "{pro} confirma por WhatsApp que puede a las {new_time}.",
     "call": "La clienta llama para mover la limpieza del {date} a las {new_time}. Hecho."},
    {"code": "booking_change", "lang": "es", "needs": "future", "tags": ("cambio-dia",),
     "subject": "¿Se puede cambiar el día de la limpieza?",
     "open": "Buenas tardes. El {date} no voy a estar en casa. ¿Se puede mover la limpieza al "
             "día siguiente a la misma hora ({time})? Un saludo, {first}",
     "reply": "Hola {first}: hemos movido su servicio al día siguiente a las {time}. Le llegará "
              "la confirmación por correo.\n{agent}",
     "answer": "Gracias, muy amables.",
     "ask": "Hola {first}: ¿nos confirma si deja las llaves en portería como la otra vez?\n"
            "{agent}",
     "note": "Revisar con planificación: {pro} tiene el día siguiente casi completo.",
     "call": "Llama para cambiar de día el servicio del {date}. Le ofrezco el día siguiente."},
    {"code": "booking_change", "lang": "en", "needs": "future", "tags": ("cambio-hora",),
     "subject": "Change the time of my cleaning on {date}",
     "open": "Hello, I have a cleaning booked on {date} at {time} with {pro}. Could it start at "
             "{new_time} instead? My flight lands later than planned. Thanks, {first}",
     "reply": "Hi {first}, done: {pro} will come on {date} at {new_time}. Reply to this email "
              "if anything else changes.\nBest regards,\n{agent}",
     "answer": "Great, thank you!",
     "ask": "Hi {first}, {new_time} is taken. Would 17:00 work for you?\n{agent}",
     "note": "English-speaking client; prefers email over phone.",
     "call": "Client called to move the {date} cleaning to {new_time}. Agreed."},
    # -- cancellations --------------------------------------------------------------------
    {"code": "cancellation", "lang": "es", "needs": "future", "tags": ("cancelación",),
     "subject": "Cancelar el servicio del {date}",
     "open": "Hola, necesito cancelar el servicio del {date}. Estaré fuera toda la semana. "
             "¿Tiene algún coste? {first}",
     "reply": "Hola {first}: hemos cancelado su servicio del {date} sin coste, porque avisa con "
              "más de 24 horas. Le esperamos a la vuelta.\n{agent}",
     "answer": "Gracias.",
     "ask": "Hola {first}: ¿quiere cancelar solo este servicio o toda la serie semanal?\n{agent}",
     "note": "Cancelación con antelación: sin cargo según condiciones.",
     "call": "Llama para cancelar el servicio del {date}. Sin cargo; le mando confirmación."},
    # -- complaints -----------------------------------------------------------------------
    {"code": "service_complaint", "lang": "es", "needs": "past", "tags": ("calidad",),
     "subject": "Queja sobre la limpieza del {date}",
     "open": "Buenas. Ayer vino {pro} y la cocina quedó sin limpiar: los fuegos y el horno "
             "estaban igual. Además llegó con media hora de retraso. Pago por un servicio "
             "completo y no es la primera vez.\n{first}",
     "reply": "Hola {first}: sentimos mucho lo ocurrido. Hemos hablado con {pro} y le "
              "ofrecemos repasar la cocina esta semana sin coste, y un descuento del 20 % en la "
              "próxima factura.\nDisculpe las molestias,\n{agent}",
     "answer": "Vale, acepto el repaso. Que sea por la mañana, por favor.",
     "ask": "Hola {first}: ¿nos puede enviar una foto de cómo quedó la cocina? Nos ayuda a "
            "hablarlo con {pro}.\n{agent}",
     "hold": "Esperando la versión de {pro}; le he escrito y llamado, sin respuesta aún.",
     "note": "Segunda queja de esta clienta en dos meses. Valorar cambiar de profesional.",
     "call": "La clienta está muy molesta por la cocina. Le prometo respuesta hoy."},
    {"code": "service_complaint", "lang": "es", "needs": "past", "tags": ("rotura",),
     "subject": "Se ha roto un jarrón durante la limpieza",
     "open": "Hola, después del servicio del {date} encontré roto un jarrón del salón. {pro} "
             "no me dijo nada. Quisiera saber cómo lo resolvemos. {first}",
     "reply": "Hola {first}: lo sentimos. {pro} nos confirma que se le cayó y no se atrevió a "
              "decirlo. Nuestro seguro cubre el daño: envíenos una foto y el valor aproximado.\n"
              "{agent}",
     "answer": "Adjunto foto. Costó unos 60 euros.",
     "ask": "Hola {first}: ¿nos envía una foto del jarrón y el valor aproximado?\n{agent}",
     "hold": "Parte abierto con la aseguradora; esperamos su respuesta (3-5 días).",
     "note": "Daño declarado. Parte al seguro.",
     "call": "Llama por el jarrón roto. Le explico el proceso del seguro."},
    {"code": "service_complaint", "lang": "en", "needs": "past", "tags": ("calidad",),
     "subject": "Unhappy with the cleaning on {date}",
     "open": "Hi, the bathroom was barely touched on {date} and the floors were still sticky. "
             "{pro} left 40 minutes early. I expected better. {first}",
     "reply": "Hi {first}, we are sorry. We have spoken with {pro}; a second visit this week is "
              "on us, and we have taken 20% off your next invoice.\nKind regards,\n{agent}",
     "answer": "Thanks, Thursday morning works.",
     "ask": "Hi {first}, could you tell us which rooms were not done?\n{agent}",
     "hold": "Waiting for {pro}'s account of the visit.",
     "note": "Check {pro}'s check-out time in the app.",
     "call": "Client called, upset about the bathroom. Promised an answer today."},
    # -- no-shows -------------------------------------------------------------------------
    {"code": "no_show", "lang": "es", "needs": "past", "tags": ("no-presentado",),
     "subject": "La profesional no vino el {date}",
     "open": "Hola, el {date} estuve esperando toda la mañana y nadie vino ni avisó. He "
             "perdido la mañana. ¿Qué ha pasado? {first}",
     "reply": "Hola {first}: le pedimos disculpas. {pro} tuvo una urgencia familiar y el aviso "
              "no le llegó. No le cobraremos el servicio y le proponemos venir el jueves a la "
              "misma hora.\n{agent}",
     "answer": "De acuerdo, el jueves me va bien.",
     "ask": "Hola {first}: ¿le viene bien que vayamos el jueves a las {time}?\n{agent}",
     "hold": "Esperando que {pro} explique la ausencia antes de decidir.",
     "note": "Llamo a {pro}: no contesta. Dejo mensaje de voz.",
     "call": "Llama la clienta: nadie se presentó el {date}. Le ofrezco otra visita."},
    # -- billing --------------------------------------------------------------------------
    {"code": "billing_question", "lang": "es", "needs": "invoice", "tags": ("factura",),
     "subject": "Duda sobre la factura {invoice}",
     "open": "Hola, me ha llegado la factura {invoice} por {amount} y no entiendo el importe: "
             "creía que eran dos servicios y aparecen más. ¿Me lo pueden explicar? {first}",
     "reply": "Hola {first}: la factura {invoice} de {amount} incluye los servicios del "
              "periodo, IVA del 21 % incluido. Le enviamos el detalle línea por línea.\n{agent}",
     "answer": "Ahora lo entiendo, gracias.",
     "ask": "Hola {first}: ¿qué servicio de la factura {invoice} no reconoce?\n{agent}",
     "hold": "Pendiente de que facturación revise las líneas de {invoice}.",
     "note": "Revisado: la factura {invoice} es correcta.",
     "call": "Pregunta por la factura {invoice} ({amount}). Le explico las líneas."},
    {"code": "billing_question", "lang": "en", "needs": "invoice", "tags": ("factura",),
     "subject": "Question about invoice {invoice}",
     "open": "Hello, invoice {invoice} says {amount}, but I thought my plan was cheaper. Could "
             "you explain? Thanks, {first}",
     "reply": "Hi {first}, invoice {invoice} ({amount}) covers every visit of the period, 21% "
              "VAT included. The lines are listed in the attached detail.\n{agent}",
     "answer": "That makes sense now, thanks.",
     "ask": "Hi {first}, which line of {invoice} looks wrong to you?\n{agent}",
     "hold": "Finance is checking the lines of {invoice}.",
     "note": "Invoice {invoice} checked: correct.",
     "call": "Client asked about {invoice} ({amount}); walked through the lines."},
    {"code": "payment_dispute", "lang": "es", "needs": "invoice", "tags": ("disputa", "cobro"),
     "subject": "Cobro indebido de la factura {invoice}",
     "open": "Me han cobrado {amount} de la factura {invoice} por un servicio que no se hizo. "
             "Quiero la devolución. {first}",
     "reply": "Hola {first}: hemos revisado la factura {invoice}. Tiene razón en un servicio: le "
              "devolvemos su importe en 3-5 días hábiles.\n{agent}",
     "answer": "Gracias por la rapidez.",
     "ask": "Hola {first}: ¿qué día fue el servicio que no se hizo?\n{agent}",
     "hold": "Finanzas revisa el cobro de {invoice}; pausado el recobro mientras tanto.",
     "note": "Pedir a finanzas que pause el recobro de {invoice}.",
     "call": "Reclama el cobro de {invoice}. Muy enfadado. Escalo a finanzas."},
    # -- professionals --------------------------------------------------------------------
    {"code": "professional_question", "lang": "es", "needs": "professional",
     "tags": ("horario",), "requester": "professional",
     "subject": "Consulta sobre mi horario de la semana que viene",
     "open": "Hola, soy {first}. En la app me aparecen tres servicios el jueves y dos se "
             "solapan. ¿Me lo podéis revisar? Gracias.",
     "reply": "Hola {first}: tienes razón, había un error al planificar. Ya está corregido: el "
              "jueves tienes dos servicios, a las 9:00 y a las 12:30.\n{agent}",
     "answer": "Perfecto, gracias.",
     "ask": "Hola {first}: ¿el jueves por la tarde podrías hacer un servicio más?\n{agent}",
     "hold": "Esperando a planificación para rehacer el jueves.",
     "note": "Solape por un cambio de hora manual. Avisar a planificación.",
     "call": "{first} llama porque el jueves tiene servicios solapados."},
    {"code": "professional_question", "lang": "es", "needs": "professional",
     "tags": ("vacaciones",), "requester": "professional",
     "subject": "Días libres en agosto",
     "open": "Buenos días, quería pedir libres del 4 al 15 de agosto. ¿Cómo lo hago? {first}",
     "reply": "Hola {first}: ya los hemos registrado; esos días no recibirás servicios.\n"
              "{agent}",
     "answer": "Genial, gracias.",
     "ask": "Hola {first}: ¿nos confirmas si el 15 también?\n{agent}",
     "note": "Registrar ausencia en la ficha de {first}.",
     "call": "{first} pide días libres en agosto."},
    # -- other ----------------------------------------------------------------------------
    {"code": "other", "lang": "es", "needs": None, "tags": ("llaves",),
     "subject": "Entrega de llaves",
     "open": "Hola, me voy de viaje y querría dejar las llaves para los servicios de estas "
             "semanas. ¿Dónde las dejo? {first}",
     "reply": "Hola {first}: puede dejarlas en nuestra oficina de la calle Colón o en portería "
              "con una nota. Anotamos la instrucción en su ficha.\n{agent}",
     "answer": "Las dejo en portería. Gracias.",
     "ask": "Hola {first}: ¿en portería hay alguien por la mañana?\n{agent}",
     "note": "Llaves en portería; nota en la ficha del cliente.",
     "call": "Pregunta dónde dejar las llaves durante su viaje."},
    {"code": "other", "lang": "es", "needs": None, "tags": ("datos",),
     "subject": "Cambio de dirección",
     "open": "Buenas, me mudo el mes que viene. ¿Los servicios siguen en la nueva casa? {first}",
     "reply": "Hola {first}: sí. Envíenos la nueva dirección y la fecha de la mudanza y lo "
              "dejamos preparado.\n{agent}",
     "answer": "Os la envío esta semana.",
     "ask": "Hola {first}: ¿nos indica la nueva dirección y desde qué fecha?\n{agent}",
     "note": "Actualizar dirección y zona cuando la envíe.",
     "call": "Se muda; pregunta si mantenemos los servicios."},
)

SUMMARIES = {
    "es": "Resumen del call center: {first} llama por \"{subject}\". No se ha podido resolver en "
          "primer nivel; pide que le contacte operaciones. Tono: {mood}.",
    "en": "Call center summary: {first} called about \"{subject}\". Could not be solved at "
          "level 1; asks operations to get back. Tone: {mood}.",
}
MOODS = {"es": ("tranquilo", "molesto", "muy enfadado", "con prisa"),
         "en": ("calm", "annoyed", "very upset", "in a hurry")}
LEVEL1_AGENTS = ("Marta (CC Valencia)", "Iván (CC Valencia)", "Sonia (CC Madrid)",
                 "Pablo (CC Madrid)")

MACROS = (
    {"name": "Confirmar cambio de reserva", "kind": "reply", "set_state": "solved",
     "category": "booking_change", "add_tags": "cambio-hora",
     "body_es": "Hola {{ first_name }}:\n\nLe confirmamos el cambio: {{ booking_professional }} "
                "irá el {{ booking_date }} a las {{ booking_time }}.\n\nUn saludo,\n"
                "{{ agent_name }}\n{{ case_number }}",
     "body_en": "Hi {{ first_name }},\n\nThe change is confirmed: {{ booking_professional }} will "
                "come on {{ booking_date }} at {{ booking_time }}.\n\nBest regards,\n"
                "{{ agent_name }}\n{{ case_number }}"},
    {"name": "Disculpa por una queja", "kind": "reply", "set_state": "pending",
     "category": "service_complaint", "add_tags": "disculpa",
     "body_es": "Hola {{ first_name }}:\n\nSentimos mucho lo ocurrido en el servicio del "
                "{{ booking_date }}. Ya hemos hablado con {{ booking_professional }} y queremos "
                "compensarle con una visita de repaso sin coste. ¿Qué día le viene bien?\n\n"
                "{{ agent_name }}",
     "body_en": "Hi {{ first_name }},\n\nWe are sorry about the visit on {{ booking_date }}. "
                "We have spoken with {{ booking_professional }} and would like to make it up to "
                "you with a free second visit. Which day suits you?\n\n{{ agent_name }}"},
    {"name": "Explicar una factura", "kind": "reply", "set_state": "solved",
     "category": "billing_question", "add_tags": "factura",
     "body_es": "Hola {{ first_name }}:\n\nLa factura {{ invoice_number }} de "
                "{{ invoice_amount }} incluye todos los servicios del periodo, con el IVA del "
                "21 %. Vence el {{ invoice_due_date }}.\n\nUn saludo,\n{{ agent_name }}",
     "body_en": "Hi {{ first_name }},\n\nInvoice {{ invoice_number }} for {{ invoice_amount }} "
                "covers every visit of the period, 21% VAT included. It is due on "
                "{{ invoice_due_date }}.\n\nBest regards,\n{{ agent_name }}"},
    {"name": "Seguimiento de un no presentado", "kind": "reply", "set_state": "pending",
     "category": "no_show", "add_tags": "no-presentado",
     "body_es": "Hola {{ first_name }}:\n\nLe pedimos disculpas porque nadie acudió al servicio "
                "del {{ booking_date }}. No se lo cobraremos. ¿Le viene bien que vayamos otro "
                "día a las {{ booking_time }}?\n\n{{ agent_name }}",
     "body_en": "Hi {{ first_name }},\n\nWe apologise: nobody came on {{ booking_date }}. You "
                "will not be charged. Shall we come another day at {{ booking_time }}?\n\n"
                "{{ agent_name }}"},
    {"name": "Pedir más información", "kind": "reply", "set_state": "pending",
     "category": None, "add_tags": None,
     "body_es": "Hola {{ first_name }}:\n\nPara ayudarle con su consulta ({{ case_number }}) "
                "necesitamos algún dato más. ¿Nos lo puede indicar respondiendo a este correo?"
                "\n\nGracias,\n{{ agent_name }}",
     "body_en": "Hi {{ first_name }},\n\nTo help you with your request ({{ case_number }}) we "
                "need a little more information. Could you reply to this email with it?\n\n"
                "Thank you,\n{{ agent_name }}"},
    {"name": "Cerrar con agradecimiento", "kind": "reply", "set_state": "solved",
     "category": None, "add_tags": None,
     "body_es": "Hola {{ first_name }}:\n\nDamos por resuelta su consulta {{ case_number }}. "
                "Si necesita algo más, responda a este correo.\n\nUn saludo,\n{{ agent_name }}",
     "body_en": "Hi {{ first_name }},\n\nWe consider request {{ case_number }} solved. If you "
                "need anything else, just reply to this email.\n\nBest regards,\n"
                "{{ agent_name }}"},
    {"name": "Llamada: factura impagada", "kind": "call_script", "set_state": "pending",
     "category": "billing_question", "add_tags": "recobro",
     "outcomes": "reached,promised_payment,voicemail,no_answer,wrong_number",
     "body_es": "Buenos días, ¿hablo con {{ first_name }}? Le llamo de atención al cliente "
                "por la factura {{ invoice_number }} de {{ invoice_amount }}, que venció el "
                "{{ invoice_due_date }} y sigue pendiente.\n- ¿Ha podido verla?\n- ¿Prefiere "
                "pagar con tarjeta o por transferencia?\n- Si promete pagar: anote la fecha.\n"
                "Gracias, soy {{ agent_name }}.",
     "body_en": "Good morning, am I speaking with {{ first_name }}? I am calling about invoice "
                "{{ invoice_number }} for {{ invoice_amount }}, due on {{ invoice_due_date }} "
                "and still unpaid.\n- Have you seen it?\n- Card or bank transfer?\n- If they "
                "promise to pay: note the date.\nThank you, this is {{ agent_name }}."},
)

# Mails the demo drops into its inbox so an agent sees new cases arrive within a minute.
INBOX = (
    {"lang": "es", "subject": "Cambiar la limpieza del jueves",
     "body": "Hola, ¿se puede cambiar la limpieza del jueves a la tarde? Por la mañana tengo "
             "médico. Gracias,\n{first}"},
    {"lang": "es", "subject": "Factura duplicada",
     "body": "Buenas, me han llegado dos facturas iguales este mes. ¿Pueden revisarlo?\n{first}"},
    {"lang": "en", "subject": "Keys for next week",
     "body": "Hello, I'll be away next week. Can the cleaner pick up the keys from my "
             "neighbour at number 4? Thanks,\n{first}"},
)
INBOX_REPLY = "Sí, a las 16:00 me va bien. Gracias.\n{first}"
