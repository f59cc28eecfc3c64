"""The lock API from outside Swift: botocore's SigV4 signer, curl, the OpenAPI document and the examples."""
import pathlib
import urllib.parse

import jsonschema
import pytest
import yaml
from openapi_spec_validator import validate

from conftest import call

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]
SPEC = yaml.safe_load((REPOSITORY / "Protocol" / "openapi.yaml").read_text())


def conforms(answer, schema_name):
    """Validates an answer against a schema of openapi.yaml."""
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": SPEC["components"]}
    jsonschema.validate(answer, schema)


def test_openapi_document_is_valid():
    validate(SPEC)


def test_every_signed_operation_documents_the_authentication_answers():
    """401 (not signed) and 403 (bad signature, unknown key, or a policy that does not allow it)."""
    missing = [f"{method.upper()} {path}" for path, item in SPEC["paths"].items() if path.startswith("/_palisade/v1/")
               for method, operation in item.items() if method != "parameters"
               and not {"401", "403"} <= set(operation["responses"])]
    assert not missing, f"operations without 401/403: {missing}"


def test_botocore_signed_session_matches_the_openapi_shapes(server):
    status, lease = call(server, "POST", "/_palisade/v1/leases", {"ttl_ms": 10000})
    assert status == 201
    conforms(lease, "LeaseResponse")
    name = "interop/ü x+y"
    status, grant = call(server, "POST", "/_palisade/v1/locks/acquire",
                         {"name": name, "lease_id": lease["lease_id"], "wait_ms": 1000})
    assert status == 200
    conforms(grant, "GrantResponse")
    status, lock = call(server, "GET", "/_palisade/v1/locks?name=" + urllib.parse.quote(name, safe=""))
    assert status == 200
    conforms(lock, "LockStatusResponse")
    assert [holder["token"] for holder in lock["holders"]] == [grant["token"]]
    status, valid = call(server, "POST", "/_palisade/v1/locks/validate", {"name": name, "token": grant["token"]})
    conforms(valid, "ValidateResponse")
    assert valid["valid"] is True
    status, released = call(server, "POST", "/_palisade/v1/locks/release",
                            {"name": name, "lease_id": lease["lease_id"], "token": grant["token"]})
    conforms(released, "ReleaseResponse")
    assert released["outcome"] == "released"
    status, revoked = call(server, "DELETE", f"/_palisade/v1/leases/{lease['lease_id']}")
    conforms(revoked, "RevokeLeaseResponse")


@pytest.mark.parametrize("method,path,body,status,code", [
    ("POST", "/_palisade/v1/leases", {"ttl_ms": 10}, 400, "InvalidTTL"),
    ("POST", "/_palisade/v1/locks/acquire", {"name": "", "lease_id": "0" * 32}, 400, "InvalidLockName"),
    ("POST", "/_palisade/v1/leases/" + "0" * 32 + "/keepalive", None, 404, "LeaseNotFound"),
])
def test_errors_match_the_openapi_error_shape(server, method, path, body, status, code):
    got_status, error = call(server, method, path, body)
    assert (got_status, error["code"]) == (status, code)
    conforms(error, "Error")


def test_a_wrong_secret_is_refused(server):
    status, error = call(server, "POST", "/_palisade/v1/leases", {"ttl_ms": 5000}, secret="wrong")
    assert (status, error["code"]) == (403, "SignatureDoesNotMatch")
