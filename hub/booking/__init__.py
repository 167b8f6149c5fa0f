"""The booking service layer: commands (the one write path), rules and availability."""
