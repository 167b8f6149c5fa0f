"""The iCalendar codec: domain ⇄ VEVENT/VCALENDAR per audience, recurrence, iTIP. Pure."""
