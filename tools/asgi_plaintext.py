"""A plaintext ASGI app for `make external-demo`: what the http scenario expects (GET /plaintext -> 200
'Hello, World!', text/plain, Content-Length; the server adds Server and Date), 404 for any other path."""

BODY = b"Hello, World!"


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    ok = scope["path"] == "/plaintext" and scope["method"] == "GET"
    status, body = (200, BODY) if ok else (404, b"Not Found")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
