"""Head office in the browser (`cloud web`): accounts and roles, the dashboard, a store's
drill-down. Served by Starlette with Jinja2 templates, as the box's screens are; every
page reads head office's database through `cloud`'s own rooms (fleet, sales, reports,
alerts) and never writes anything but its accounts, sessions' audit and acknowledgements.
"""
