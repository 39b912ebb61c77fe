"""The streams the server holds, by id, and how browsers watch and steer them (the websocket, the routes)."""
