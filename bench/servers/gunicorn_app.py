# The bench's routes as a WSGI app, for Gunicorn + gevent.
import json

TEXT = b"Hello, World!"


def app(environ, start_response):
    if environ.get("PATH_INFO") == "/json":
        body = json.dumps({"message": "Hello, World!"}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
    start_response("200 OK", [("Content-Type", "text/plain;charset=UTF-8"), ("Content-Length", str(len(TEXT)))])
    return [TEXT]
