"""The official Azure Digital Twins Python SDK (azure-digitaltwins-core),
unmodified, against a running Twinspace server over TLS.

Run by crates/twinspace/tests/e2e.rs with TWINSPACE_URL (https://...),
TWINSPACE_TOKEN (an admin bearer token) and TWINSPACE_CA (the server's
self-signed certificate) set. Exits non-zero on the first failed check.
"""

import os
import sys
import time

from azure.core import MatchConditions
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.digitaltwins.core import DigitalTwinsClient

URL = os.environ["TWINSPACE_URL"]
TOKEN = os.environ["TWINSPACE_TOKEN"]
CA = os.environ.get("TWINSPACE_CA")

# More twins than one query page (the server's default page is 100 rows).
TWIN_COUNT = 230


class StaticToken:
    """A credential whose token is a Twinspace bearer token."""

    def __init__(self, token):
        self.token = token

    def get_token(self, *scopes, **kwargs):
        return AccessToken(self.token, int(time.time()) + 3600)


def check(condition, what):
    if not condition:
        print("FAILED:", what)
        sys.exit(1)
    print("ok:", what)


MODELS = [
    {
        "@id": "dtmi:sdk:Building;1",
        "@type": "Interface",
        "@context": "dtmi:dtdl:context;2",
        "displayName": "Building",
        "contents": [
            {"@type": "Property", "name": "name", "schema": "string"},
            {"@type": "Relationship", "name": "contains", "target": "dtmi:sdk:Room;1",
             "properties": [{"@type": "Property", "name": "since", "schema": "string"}]},
        ],
    },
    {
        "@id": "dtmi:sdk:Room;1",
        "@type": "Interface",
        "@context": "dtmi:dtdl:context;2",
        "displayName": "Room",
        "contents": [
            {"@type": "Property", "name": "temperature", "schema": "double"},
            {"@type": "Property", "name": "level", "schema": "integer"},
            {"@type": "Component", "name": "sensor", "schema": "dtmi:sdk:Sensor;1"},
        ],
    },
    {
        "@id": "dtmi:sdk:Sensor;1",
        "@type": "Interface",
        "@context": "dtmi:dtdl:context;2",
        "contents": [{"@type": "Property", "name": "battery", "schema": "double"}],
    },
]


def main():
    client = DigitalTwinsClient(URL, StaticToken(TOKEN), connection_verify=CA if CA else False)

    created = client.create_models(MODELS)
    check(len(created) == 3 and created[0].id == "dtmi:sdk:Building;1", "create_models returns the model data")
    listed = list(client.list_models(include_model_definition=True))
    check(len(listed) == 3 and all(m.model for m in listed), "list_models with definitions")
    model = client.get_model("dtmi:sdk:Room;1", include_model_definition=True)
    check(model.id == "dtmi:sdk:Room;1" and model.model["@id"] == "dtmi:sdk:Room;1", "get_model")
    deps = list(client.list_models(dependencies_for=["dtmi:sdk:Room;1"]))
    check(sorted(m.id for m in deps) == ["dtmi:sdk:Room;1", "dtmi:sdk:Sensor;1"], "list_models dependencies_for")

    building = client.upsert_digital_twin(
        "building-1", {"$metadata": {"$model": "dtmi:sdk:Building;1"}, "name": "HQ"}
    )
    check(building["$dtId"] == "building-1" and building["$etag"].startswith('W/"'), "upsert_digital_twin")
    for n in range(TWIN_COUNT):
        client.upsert_digital_twin(
            f"room-{n}",
            {
                "$metadata": {"$model": "dtmi:sdk:Room;1"},
                "temperature": 20.0 + n % 5,
                "level": n % 3,
                "sensor": {"$metadata": {}, "battery": 90.0},
            },
        )
    twin = client.get_digital_twin("room-7")
    check(twin["temperature"] == 22.0 and twin["sensor"]["battery"] == 90.0, "get_digital_twin")

    client.update_digital_twin("room-7", [{"op": "replace", "path": "/temperature", "value": 30.5}])
    twin = client.get_digital_twin("room-7")
    check(twin["temperature"] == 30.5, "update_digital_twin (JSON Patch)")
    try:
        client.update_digital_twin(
            "room-7",
            [{"op": "replace", "path": "/temperature", "value": 1.0}],
            etag='W/"1"',
            match_condition=MatchConditions.IfNotModified,
        )
        check(False, "a stale ETag is refused")
    except HttpResponseError as error:
        check(error.status_code == 412, "a stale ETag is refused with 412")
    client.update_digital_twin(
        "room-7",
        [{"op": "replace", "path": "/temperature", "value": 31.0}],
        etag=twin["$etag"],
        match_condition=MatchConditions.IfNotModified,
    )
    check(client.get_digital_twin("room-7")["temperature"] == 31.0, "update with the current ETag")

    component = client.get_component("room-7", "sensor")
    check(component["battery"] == 90.0, "get_component")
    client.update_component("room-7", "sensor", [{"op": "replace", "path": "/battery", "value": 55.0}])
    check(client.get_component("room-7", "sensor")["battery"] == 55.0, "update_component")

    for n in range(3):
        rel = client.upsert_relationship(
            "building-1",
            f"contains-{n}",
            {"$targetId": f"room-{n}", "$relationshipName": "contains", "since": "2024"},
        )
        check(rel["$relationshipId"] == f"contains-{n}", f"upsert_relationship {n}")
    got = client.get_relationship("building-1", "contains-1")
    check(got["$targetId"] == "room-1", "get_relationship")
    client.update_relationship("building-1", "contains-1", [{"op": "replace", "path": "/since", "value": "2025"}])
    check(client.get_relationship("building-1", "contains-1")["since"] == "2025", "update_relationship")
    rels = list(client.list_relationships("building-1"))
    check(len(rels) == 3, "list_relationships")
    rels = list(client.list_relationships("building-1", relationship_id="contains"))
    check(len(rels) == 3, "list_relationships by name")
    incoming = list(client.list_incoming_relationships("room-2"))
    check(len(incoming) == 1 and incoming[0].source_id == "building-1", "list_incoming_relationships")

    rows = client.query_twins("SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:sdk:Room;1')")
    pages = 0
    count = 0
    for page in rows.by_page():
        pages += 1
        count += len(list(page))
    check(count == TWIN_COUNT and pages >= 2, f"query_twins pages through {count} rows in {pages} pages")
    rows = list(client.query_twins("SELECT COUNT() FROM DIGITALTWINS T WHERE T.level = 1"))
    check(rows == [{"COUNT": TWIN_COUNT // 3 + (1 if TWIN_COUNT % 3 > 1 else 0)}], "query COUNT()")
    rows = list(client.query_twins(
        "SELECT R FROM DIGITALTWINS B JOIN R RELATED B.contains WHERE B.$dtId = 'building-1'"
    ))
    check(len(rows) == 3, "query with JOIN")

    try:
        client.delete_digital_twin("room-0")
        check(False, "a twin with relationships cannot be deleted")
    except HttpResponseError as error:
        check(error.status_code == 409, "deleting a related twin is refused with 409")
    client.delete_relationship("building-1", "contains-0")
    client.delete_digital_twin("room-0")
    try:
        client.get_digital_twin("room-0")
        check(False, "a deleted twin is gone")
    except ResourceNotFoundError:
        check(True, "a deleted twin is gone (404)")
    try:
        client.get_digital_twin("no-such-twin")
        check(False, "missing twins raise")
    except ResourceNotFoundError as error:
        check(error.error is not None and error.error.code == "DigitalTwinNotFound", "the ADT error code reaches the SDK")

    client.decommission_model("dtmi:sdk:Building;1")
    check(client.get_model("dtmi:sdk:Building;1").decommissioned, "decommission_model")
    client.delete_relationship("building-1", "contains-1")
    client.delete_relationship("building-1", "contains-2")
    client.delete_digital_twin("building-1")
    client.delete_model("dtmi:sdk:Building;1")
    check(len(list(client.list_models())) == 2, "delete_model")
    print("ADT SDK: all checks passed")


if __name__ == "__main__":
    main()
