"""The metadata store: tables, migrations, and the Store interface."""
