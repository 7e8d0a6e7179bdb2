"""Google's Python client for the Notebooks API (v2, REST transport) against the emulator.

Run by tests/google_python_client.rs with the emulator's URL as the only argument. The client
is used as a new user would: anonymous credentials and an api_endpoint, nothing else. Every
check raises on failure, so the exit status is the verdict.
"""

import sys

from google.api_core import exceptions
from google.api_core.client_options import ClientOptions
from google.api_core.future import polling
from google.auth.credentials import AnonymousCredentials
from google.cloud import notebooks_v2
from google.cloud.location import locations_pb2
from google.iam.v1 import iam_policy_pb2, policy_pb2
from google.longrunning import operations_pb2
from google.protobuf import field_mask_pb2

ZONE = "projects/p/locations/us-central1-a"
REQUEST_ID = "5c1d9e2a-0000-4000-8000-000000000001"
# Operations take 150 ms in the test; the default first poll waits a whole second.
QUICK = polling.DEFAULT_POLLING.with_delay(initial=0.05, maximum=0.2)


def instance(team):
    setup = notebooks_v2.GceSetup(
        machine_type="n1-standard-4",
        container_image=notebooks_v2.ContainerImage(
            repository="us-docker.pkg.dev/p/r/img", tag="latest"
        ),
        boot_disk=notebooks_v2.BootDisk(
            disk_type=notebooks_v2.DiskType.PD_SSD, disk_size_gb=150
        ),
        metadata={"post-startup-script": "gs://b/s.sh"},
    )
    return notebooks_v2.Instance(gce_setup=setup, labels={"team": team})


def refused(call, error_class, status):
    """Runs call, which must fail with error_class and Google's status name."""
    try:
        call()
    except error_class as error:
        got = error.response.json()["error"]["status"]
        assert got == status, f"{status} expected, got {got}: {error}"
        return
    raise AssertionError(f"{error_class.__name__} ({status}) expected")


def create(client, instance_id, team, request_id=""):
    request = notebooks_v2.CreateInstanceRequest(
        parent=ZONE, instance_id=instance_id, instance=instance(team), request_id=request_id
    )
    return client.create_instance(request=request)


def main(endpoint):
    client = notebooks_v2.NotebookServiceClient(
        credentials=AnonymousCredentials(),
        transport="rest",
        client_options=ClientOptions(api_endpoint=endpoint),
    )
    name = f"{ZONE}/instances/nb-1"

    created = create(client, "nb-1", "data", REQUEST_ID).result(timeout=30, polling=QUICK)
    assert created.name == name, created.name
    assert created.state == notebooks_v2.State.ACTIVE, created.state
    assert created.gce_setup.boot_disk.disk_type == notebooks_v2.DiskType.PD_SSD
    replay = create(client, "nb-1", "data", REQUEST_ID)
    assert replay.done(), "a retried create is answered with its finished operation"
    refused(lambda: create(client, "nb-1", "data"), exceptions.Conflict, "ALREADY_EXISTS")

    got = client.get_instance(name=name)
    assert got.labels["team"] == "data" and got.state == notebooks_v2.State.ACTIVE
    refused(
        lambda: client.get_instance(name=f"{ZONE}/instances/none"),
        exceptions.NotFound,
        "NOT_FOUND",
    )

    for instance_id, team in [("nb-2", "ml"), ("nb-3", "data"), ("nb-4", "ml")]:
        create(client, instance_id, team)
    pager = client.list_instances(
        request=notebooks_v2.ListInstancesRequest(parent=ZONE, page_size=1)
    )
    names = [item.name for item in pager]
    assert names == [f"{ZONE}/instances/nb-{i}" for i in range(1, 5)], names
    ml = client.list_instances(
        request=notebooks_v2.ListInstancesRequest(
            parent=ZONE, page_size=1, filter="labels.team=ml", order_by="name desc"
        )
    )
    names = [item.name for item in ml]
    assert names == [f"{ZONE}/instances/nb-4", f"{ZONE}/instances/nb-2"], names
    refused(
        lambda: list(
            client.list_instances(
                request=notebooks_v2.ListInstancesRequest(parent=ZONE, order_by="state")
            )
        ),
        exceptions.BadRequest,
        "INVALID_ARGUMENT",
    )

    patched = client.update_instance(
        instance=notebooks_v2.Instance(name=name, labels={"team": "platform"}),
        update_mask=field_mask_pb2.FieldMask(paths=["labels"]),
    ).result(timeout=30, polling=QUICK)
    assert patched.labels["team"] == "platform", patched.labels
    assert patched.gce_setup.machine_type == "n1-standard-4"
    refused(
        lambda: client.update_instance(
            instance=notebooks_v2.Instance(name=name),
            update_mask=field_mask_pb2.FieldMask(paths=["gce_setup.boot_disk"]),
        ),
        exceptions.BadRequest,
        "INVALID_ARGUMENT",
    )

    stopped = client.stop_instance(request={"name": name}).result(timeout=30, polling=QUICK)
    assert stopped.state == notebooks_v2.State.STOPPED, stopped.state
    refused(
        lambda: client.stop_instance(request={"name": name}),
        exceptions.BadRequest,
        "FAILED_PRECONDITION",
    )
    started = client.start_instance(request={"name": name}).result(timeout=30, polling=QUICK)
    assert started.state == notebooks_v2.State.ACTIVE, started.state
    reset = client.reset_instance(request={"name": name}).result(timeout=30, polling=QUICK)
    assert reset.state == notebooks_v2.State.ACTIVE, reset.state
    upgradability = client.check_instance_upgradability(
        request={"notebook_instance": name}
    )
    assert not upgradability.upgradeable

    operations = client.list_operations(
        operations_pb2.ListOperationsRequest(name=ZONE, filter="done=true")
    )
    assert len(operations.operations) >= 6, operations
    first = operations.operations[0].name
    assert client.get_operation(operations_pb2.GetOperationRequest(name=first)).done
    client.delete_operation(operations_pb2.DeleteOperationRequest(name=first))
    refused(
        lambda: client.get_operation(operations_pb2.GetOperationRequest(name=first)),
        exceptions.NotFound,
        "NOT_FOUND",
    )

    policy = client.get_iam_policy(iam_policy_pb2.GetIamPolicyRequest(resource=name))
    binding = policy_pb2.Binding(role="roles/notebooks.viewer", members=["user:ada@example.com"])
    written = client.set_iam_policy(
        iam_policy_pb2.SetIamPolicyRequest(
            resource=name, policy=policy_pb2.Policy(bindings=[binding], etag=policy.etag)
        )
    )
    assert written.etag != policy.etag and list(written.bindings[0].members) == [
        "user:ada@example.com"
    ]
    refused(
        lambda: client.set_iam_policy(
            iam_policy_pb2.SetIamPolicyRequest(
                resource=name, policy=policy_pb2.Policy(etag=policy.etag)
            )
        ),
        exceptions.Conflict,
        "ABORTED",
    )
    granted = client.test_iam_permissions(
        iam_policy_pb2.TestIamPermissionsRequest(
            resource=name, permissions=["notebooks.instances.get"]
        )
    )
    assert list(granted.permissions) == ["notebooks.instances.get"]

    locations = client.list_locations(locations_pb2.ListLocationsRequest(name="projects/p"))
    assert any(loc.location_id == "us-central1-a" for loc in locations.locations)
    tokyo = client.get_location(
        locations_pb2.GetLocationRequest(name="projects/p/locations/asia-northeast1")
    )
    assert tokyo.display_name == "Tokyo", tokyo

    client.delete_instance(name=name).result(timeout=30, polling=QUICK)
    refused(lambda: client.get_instance(name=name), exceptions.NotFound, "NOT_FOUND")
    print("python client: every call answered as expected")


if __name__ == "__main__":
    main(sys.argv[1])
