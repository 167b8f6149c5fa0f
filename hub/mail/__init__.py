"""Mail: outgoing iMIP invites, updates, cancellations and reminders; incoming REPLY handling."""
