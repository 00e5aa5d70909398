# The I/O-bound case as a WSGI app for Gunicorn's gevent worker: wait 20 ms (a database call), then answer.
import gevent

TEXT = b"Hello, World!"


def app(environ, start_response):
    gevent.sleep(0.02)
    start_response("200 OK", [("Content-Type", "text/plain;charset=UTF-8"), ("Content-Length", str(len(TEXT)))])
    return [TEXT]
