"""The dashboard's widgets: tables, editors, logs and views the screens are built of.

Widgets take their data through attributes and tell their screen through
messages; none imports the app or a screen.
"""
