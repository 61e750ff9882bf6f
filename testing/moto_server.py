"""moto's S3 server (`python3 -m moto.server`) with two fixes, for the S3 store's tests.

moto 5 in server mode checks SigV4 signatures against a query string that werkzeug has already
percent-decoded in part ("prefix=a%2Fb" arrives as "prefix=a/b"), so every correctly signed
request whose query holds an encoded '/' fails with SignatureDoesNotMatch, from boto3 as from any
client (getmoto/moto#5948). AWS builds the canonical query by decoding each name and value and
encoding it again (RFC 3986, upper-case %XX); the function below does exactly that.

moto answers a conditional write (`If-None-Match: *`) by looking for the object and then writing
it, with no lock between the two, and its server runs a thread per connection: two concurrent
creates of one name can both succeed, where S3 (and Ceph's RADOS Gateway) answers 412 to all but
one. The S3 store's conformance test of exactly that failed now and then on moto alone. So the
server below answers one request at a time (each connection still has its own thread, so keep-alive
and concurrent clients work as before), which makes moto's check-then-write atomic as S3's is.

Everything else, the signature check included, is moto's own. Same arguments as
`python3 -m moto.server`.
"""
import runpy
import threading
import urllib.parse

import botocore.auth
import werkzeug.serving


def _canonical_query(self, parts):
    pairs = []
    for pair in parts.query.split("&") if parts.query else []:
        name, _, value = pair.partition("=")
        pairs.append(tuple(urllib.parse.quote(urllib.parse.unquote(text), safe="-_.~")
                           for text in (name, value)))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


botocore.auth.SigV4Auth._canonical_query_string_url = _canonical_query


_run_simple = werkzeug.serving.run_simple


def _one_request_at_a_time(hostname, port, application, *args, **kwargs):
    lock = threading.Lock()

    def serialized(environ, start_response):
        with lock:
            body = application(environ, start_response)
            try:
                return [b"".join(body)]
            finally:
                if hasattr(body, "close"):
                    body.close()

    return _run_simple(hostname, port, serialized, *args, **kwargs)


# moto.server imports run_simple by name when it runs, below: it gets this one.
werkzeug.serving.run_simple = _one_request_at_a_time
runpy.run_module("moto.server", run_name="__main__", alter_sys=True)
