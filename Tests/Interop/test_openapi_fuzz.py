"""Schemathesis against `Protocol/openapi.yaml`: generated calls to every lock API operation,
signed as a client would sign them, must get answers the document describes (status, content
type, body schema) and never a server error. Bounded: PALISADE_SCHEMATHESIS_EXAMPLES examples per
operation (default 25), the same examples every run unless PALISADE_SCHEMATHESIS_RANDOM=1."""
import os

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from conftest import REPOSITORY

schema = schemathesis.openapi.from_path(str(REPOSITORY / "Protocol" / "openapi.yaml"))


MARK = "x-palisade-test-sign"


@schema.auth()
class SignedBySchemathesis:
    """Marks the calls schemathesis means to authenticate; `SigV4` signs them on the wire. The
    calls it sends without authentication on purpose stay unsigned."""

    def get(self, case, context):
        return "1"

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), MARK: data}


class SigV4(requests.auth.AuthBase):
    """Signs a marked request as it goes on the wire: method, URL, the final body."""

    def __init__(self, server):
        self.credentials = botocore.credentials.Credentials(server.access_key, server.secret_key)

    def __call__(self, prepared):
        if prepared.headers.pop(MARK, None) is None:
            return prepared
        body = prepared.body or b""
        if isinstance(body, str):
            body = body.encode()
        signed = botocore.awsrequest.AWSRequest(method=prepared.method, url=prepared.url, data=body,
                                                headers={"content-type": prepared.headers.get("content-type", "")})
        botocore.auth.S3SigV4Auth(self.credentials, "s3", "us-east-1").add_auth(signed)
        for name in ("authorization", "x-amz-date", "x-amz-content-sha256"):
            prepared.headers[name] = signed.headers[name]
        return prepared


# The session endpoint is a WebSocket upgrade, which schemathesis does not speak (LockSessionTests).
@schema.exclude(path="/_palisade/v1/session").parametrize()
@settings(max_examples=int(os.environ.get("PALISADE_SCHEMATHESIS_EXAMPLES", "25")), deadline=None,
          derandomize=os.environ.get("PALISADE_SCHEMATHESIS_RANDOM") != "1", suppress_health_check=list(HealthCheck))
def test_the_lock_api_answers_as_its_openapi_document_says(case, server):
    # Left out: a malformed Authorization header is 400 AuthorizationHeaderMalformed, as in S3,
    # where `ignored_auth` expects 401 or 403 (LockAPITests cover each authentication answer); a
    # method a path does not serve is 404 NotFound, where `unsupported_method` expects 405; the
    # rules of a bucket name (no "..", not an IP address, …) are more than a schema can say.
    excluded = [schemathesis.checks.ignored_auth, schemathesis.checks.unsupported_method]
    if case.operation.path == "/_palisade/v1/admin/fencing":
        excluded.append(schemathesis.checks.positive_data_acceptance)
    case.call_and_validate(base_url=server.endpoint, auth=SigV4(server), timeout=30, excluded_checks=excluded)
