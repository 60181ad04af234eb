"""home-idp's terminal dashboard (Textual). It talks to the gateway over GraphQL only.

`app` is the Textual app; `screens/` holds its screens, `widgets/` the parts
they are built of, `dialogs/` the modal questions and forms. `client` is the
one GraphQL client, `operations/` its named documents and `results` the
typed answers; `context` is what screens may ask of the app. Screens do the
network work; widgets take data through attributes and post messages.
"""
