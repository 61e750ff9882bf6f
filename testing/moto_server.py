"""moto's S3 server (`python3 -m moto.server`) with one fix, for the S3 store's tests.

moto 5 in server mode checks SigV4 signatures against a query string that werkzeug has already
percent-decoded in part ("prefix=a%2Fb" arrives as "prefix=a/b"), so every correctly signed
request whose query holds an encoded '/' fails with SignatureDoesNotMatch, from boto3 as from any
client (getmoto/moto#5948). AWS builds the canonical query by decoding each name and value and
encoding it again (RFC 3986, upper-case %XX); the function below does exactly that. Everything
else, the signature check included, is moto's own. Same arguments as `python3 -m moto.server`.
"""
import runpy
import urllib.parse

import botocore.auth


def _canonical_query(self, parts):
    pairs = []
    for pair in parts.query.split("&") if parts.query else []:
        name, _, value = pair.partition("=")
        pairs.append(tuple(urllib.parse.quote(urllib.parse.unquote(text), safe="-_.~")
                           for text in (name, value)))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


botocore.auth.SigV4Auth._canonical_query_string_url = _canonical_query
runpy.run_module("moto.server", run_name="__main__", alter_sys=True)
