"""Lock sessions from outside Swift, written from Protocol/lock-sessions.md alone: a botocore-signed
WebSocket upgrade (websocket-client), header-line messages, answers matched by id in any order."""
import json
import pathlib

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import jsonschema
import pytest
import websocket
import yaml

SPEC = yaml.safe_load((pathlib.Path(__file__).resolve().parents[2] / "Protocol" / "openapi.yaml").read_text())


def open_session(server, secret=None):
    """Opens a session whose upgrade request is signed by botocore's S3 SigV4 signer."""
    url = server.endpoint + "/_palisade/v1/session"
    request = botocore.awsrequest.AWSRequest(method="GET", url=url, data=b"")
    credentials = botocore.credentials.Credentials(server.access_key, secret or server.secret_key)
    botocore.auth.S3SigV4Auth(credentials, "s3", "us-east-1").add_auth(request)
    signed = [f"{name}: {value}" for name, value in request.prepare().headers.items() if name.lower() != "host"]
    return websocket.create_connection(url.replace("http://", "ws://"), header=signed, timeout=10)


class Session:
    """Sends requests and keeps every answer by id, in the order they arrive."""

    def __init__(self, connection):
        self.connection = connection
        self.arrived = []

    def send(self, id, method, path, body=None, query=None):
        header = {"id": id, "method": method, "path": path}
        if query is not None:
            header["query"] = query
        self.connection.send(json.dumps(header) + "\n" + (json.dumps(body) if body is not None else ""))

    def receive(self):
        header_line, _, body = self.connection.recv().partition("\n")
        answer = (json.loads(header_line), json.loads(body) if body else None)
        self.arrived.append(answer)
        return answer

    def call(self, id, method, path, body=None, query=None):
        self.send(id, method, path, body, query)
        header, body = self.receive()
        assert header["id"] == id
        return header["status"], body


def conforms(answer, schema_name):
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": SPEC["components"]}
    jsonschema.validate(answer, schema)


def test_a_waiting_acquire_does_not_hold_up_later_calls_and_answers_carry_their_ids(server):
    session = Session(open_session(server))
    try:
        status, first = session.call(1, "POST", "/leases", {"ttl_ms": 10000})
        assert status == 201
        conforms(first, "LeaseResponse")
        _, second = session.call(2, "POST", "/leases", {"ttl_ms": 10000})
        name = "interop/session ü"
        status, holder = session.call(3, "POST", "/locks/acquire", {"name": name, "lease_id": first["lease_id"]})
        assert status == 200
        conforms(holder, "GrantResponse")

        session.send(4, "POST", "/locks/acquire", {"name": name, "lease_id": second["lease_id"], "wait_ms": 10000})
        session.send(5, "POST", f"/leases/{second['lease_id']}/keepalive")
        header, keepalive = session.receive()
        assert (header["id"], header["status"]) == (5, 200), "the keep-alive is answered while the acquire waits"
        conforms(keepalive, "LeaseResponse")

        status, lock = session.call(6, "GET", "/locks", query="name=interop%2Fsession%20%C3%BC")
        assert status == 200 and [h["token"] for h in lock["holders"]] == [holder["token"]]
        conforms(lock, "LockStatusResponse")

        session.send(7, "POST", "/locks/release",
                     {"name": name, "lease_id": first["lease_id"], "token": holder["token"]})
        answers = {}
        while len(answers) < 2:
            header, body = session.receive()
            answers[header["id"]] = (header["status"], body)
        assert answers[7][0] == 200 and answers[7][1]["outcome"] == "released"
        status, grant = answers[4]
        assert status == 200 and grant["lease_id"] == second["lease_id"] and grant["token"] > holder["token"]
        assert all(header["request_id"] for header, _ in session.arrived)
    finally:
        session.connection.close()


def test_errors_come_as_the_http_api_answers_them(server):
    session = Session(open_session(server))
    try:
        status, error = session.call(1, "POST", "/leases", {"ttl_ms": 10})
        assert (status, error["code"]) == (400, "InvalidTTL")
        conforms(error, "Error")
        session.connection.send("not a header line\n{}")
        header, error = session.receive()
        assert "id" not in header and header["status"] == 400 and error["code"] == "MalformedRequest"
    finally:
        session.connection.close()


def test_an_upgrade_with_a_wrong_secret_is_refused_with_the_lock_apis_json_error(server):
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        open_session(server, secret="wrong")
    assert refused.value.status_code == 403
    error = json.loads(refused.value.resp_body)
    assert error["code"] == "SignatureDoesNotMatch"
    conforms(error, "Error")
