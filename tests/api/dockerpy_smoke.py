#!/usr/bin/python3
"""docker-py (Debian's python3-docker 5) against a Docker Engine API socket.

Usage: dockerpy_smoke.py unix:///path/to/api.sock

Run by tests/tests/api_py.rs with the busybox image already imported as
busybox:latest.  Asserts outcomes (output, exit codes, what lists show, what
is gone after removal); prints one line per step; exit 0 and `ALL OK` at the
end when everything held, else exit 1 naming the failed sections.
"""

import sys
import time
import traceback

import docker
from docker.errors import ImageNotFound, NotFound

BB = "busybox"

# GET http://HOST/ with nc (busybox's static wget segfaults resolving names
# without glibc's NSS libraries in the image), retried; prints the body.
FETCH = (
    "get() {{ printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {host} 80 > /tmp/r 2>/dev/null "
    "&& grep -q '^HTTP/1.[01] 200' /tmp/r && tr -d '\\r' < /tmp/r | sed '1,/^$/d'; }}; "
    "i=0; while [ $i -lt {tries} ]; do get && exit 0; i=$((i+1)); sleep 0.2; done; exit 1"
)

HTTPD = (
    "mkdir -p /www && echo {page} > /www/index.html && httpd -p 80 -h /www; "
    "trap 'exit 0' TERM; while true; do sleep 0.2; done"
)

TRAPPER = (
    "trap 'echo got-term; exit 0' TERM; echo ready; echo to-stderr >&2; "
    "while true; do sleep 0.1; done"
)


def step(msg):
    print("--", msg, flush=True)


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def expect_missing(fn, exc, what):
    try:
        fn()
    except exc:
        return
    raise AssertionError(f"{what} still exists")


def wait_for(pred, what, timeout=15.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def system(client):
    step("ping / version / info")
    expect(client.ping() is True, "ping")
    v = client.version()
    expect(v.get("ApiVersion", "").startswith("1."), f"version: {v}")
    expect(v.get("Os") == "linux", f"version: {v}")
    info = client.info()
    expect(info.get("OSType") == "linux", f"info: {info}")


def images(client):
    step("images: list, get, tag, remove")
    tags = [t for i in client.images.list() for t in i.tags]
    expect("busybox:latest" in tags, f"images.list tags: {tags}")
    img = client.images.get(BB)
    expect(img.id.startswith("sha256:"), img.id)
    expect("busybox:latest" in img.tags, img.tags)
    expect(img.tag("e2e-py", "1") is True, "tag")
    tagged = client.images.get("e2e-py:1")
    expect(tagged.id == img.id, "tag points at the same image")
    listed = client.images.list(name="e2e-py")
    expect([i.id for i in listed] == [img.id], f"images.list(name=): {listed}")
    client.images.remove("e2e-py:1")
    expect_missing(lambda: client.images.get("e2e-py:1"), ImageNotFound, "e2e-py:1")
    expect("busybox:latest" in client.images.get(BB).tags, "busybox survived")


def containers(client):
    step("containers.run attached: output")
    out = client.containers.run(BB, ["sh", "-c", "echo hello-py"], remove=True)
    expect(out == b"hello-py\n", f"run output: {out!r}")

    step("containers.run detached, logs, labels, list filters")
    c = client.containers.run(
        BB,
        ["sh", "-c", TRAPPER],
        detach=True,
        name="py-det",
        environment={"XV": "42"},
        labels={"e2e": "py"},
    )
    wait_for(lambda: b"ready" in c.logs(), "logs to show ready")
    c.reload()
    expect(c.status == "running", f"status {c.status}")
    expect(c.name == "py-det", c.name)
    expect(b"to-stderr" in c.logs(stdout=False, stderr=True), "stderr logs")
    expect(b"to-stderr" not in c.logs(stdout=True, stderr=False), "stdout-only logs")
    ids = [x.id for x in client.containers.list(filters={"label": "e2e=py"})]
    expect(ids == [c.id], f"list(label=e2e=py): {ids}")
    ids = [x.id for x in client.containers.list(filters={"label": "e2e=other"})]
    expect(ids == [], f"list(label=e2e=other): {ids}")
    expect(client.containers.get("py-det").id == c.id, "get by name")

    step("exec_run: output, env, exit codes")
    r = c.exec_run(["sh", "-c", "echo $XV"])
    expect((r.exit_code, r.output) == (0, b"42\n"), f"exec_run: {r}")
    r = c.exec_run(["sh", "-c", "exit 3"])
    expect(r.exit_code == 3, f"exec_run exit code: {r}")
    r = c.exec_run(["id", "-u"], user="1000")
    expect(r.output == b"1000\n", f"exec_run user: {r}")

    step("stop, wait, remove")
    c.stop(timeout=10)
    res = c.wait(timeout=20)
    expect(res["StatusCode"] == 0, f"wait after stop: {res}")
    expect(b"got-term" in c.logs(), "SIGTERM reached the container")
    c.reload()
    expect(c.status == "exited", c.status)
    c.remove()
    expect_missing(lambda: client.containers.get("py-det"), NotFound, "py-det")

    step("wait returns the exit code")
    c = client.containers.run(BB, ["sh", "-c", "sleep 0.3; exit 7"], detach=True)
    res = c.wait(timeout=20)
    expect(res["StatusCode"] == 7, f"wait: {res}")
    c.remove()

    step("kill and force remove")
    c = client.containers.run(BB, ["sleep", "300"], detach=True, name="py-kill")
    c.kill()
    expect(c.wait(timeout=20)["StatusCode"] == 137, "SIGKILL exit code")
    c2 = client.containers.run(BB, ["sleep", "300"], detach=True)
    c2.remove(force=True)
    expect_missing(lambda: client.containers.get(c2.id), NotFound, "force-removed")
    c.remove()


def volumes(client):
    step("volumes: create, list, use, remove")
    v = client.volumes.create(name="py-vol", labels={"e2e": "py"})
    expect(v.name == "py-vol", v.name)
    names = [x.name for x in client.volumes.list()]
    expect("py-vol" in names, f"volumes.list: {names}")
    client.containers.run(
        BB, ["sh", "-c", "echo kept > /v/f"], volumes={"py-vol": {"bind": "/v", "mode": "rw"}}, remove=True
    )
    out = client.containers.run(BB, ["cat", "/v/f"], volumes=["py-vol:/v"], remove=True)
    expect(out == b"kept\n", f"volume content: {out!r}")
    expect(client.volumes.get("py-vol").attrs["Labels"] == {"e2e": "py"}, "labels")
    v.remove()
    expect_missing(lambda: client.volumes.get("py-vol"), NotFound, "py-vol")
    names = [x.name for x in client.volumes.list()]
    expect("py-vol" not in names, f"volumes.list after remove: {names}")


def networks(client):
    step("networks: create, list, reach by name")
    net = client.networks.create("py-net", driver="bridge")
    expect(net.name == "py-net", net.name)
    listed = [n.name for n in client.networks.list(names=["py-net"])]
    expect(listed == ["py-net"], f"networks.list(names=): {listed}")
    srv = client.containers.run(
        BB, ["sh", "-c", HTTPD.format(page="py-ok")], detach=True, name="py-srv", network="py-net"
    )
    out = client.containers.run(
        BB, ["sh", "-c", FETCH.format(host="py-srv", tries=50)], network="py-net", remove=True
    )
    expect(out == b"py-ok\n", f"fetch by name: {out!r}")

    step("networks: connect, disconnect")
    other = client.containers.run(BB, ["sleep", "300"], detach=True, name="py-other")
    once = ["sh", "-c", FETCH.format(host="py-srv", tries=1)]
    expect(other.exec_run(once).exit_code != 0, "reached py-srv before connect")
    net.connect(other)
    net.reload()
    members = sorted(c.name for c in net.containers)
    expect(members == ["py-other", "py-srv"], f"network members: {members}")
    r = other.exec_run(["sh", "-c", FETCH.format(host="py-srv", tries=50)])
    expect((r.exit_code, r.output) == (0, b"py-ok\n"), f"fetch after connect: {r}")
    net.disconnect(other)
    net.reload()
    expect([c.name for c in net.containers] == ["py-srv"], "after disconnect")
    expect(other.exec_run(once).exit_code != 0, "reached py-srv after disconnect")

    step("networks: remove")
    other.remove(force=True)
    srv.remove(force=True)
    net.remove()
    expect_missing(lambda: client.networks.get("py-net"), NotFound, "py-net")


def main():
    base_url = sys.argv[1]
    client = docker.DockerClient(base_url=base_url, version="auto", timeout=60)
    # Every section runs even when an earlier one failed (they do not depend
    # on each other), so one missing endpoint does not hide the rest.
    failed = []
    for section in (system, images, containers, volumes, networks):
        try:
            section(client)
        except Exception:  # noqa: BLE001 -- report and go on
            failed.append(section.__name__)
            print(f"FAILED: {section.__name__}", flush=True)
            traceback.print_exc()
            sys.stderr.flush()
    if failed:
        print("FAILED SECTIONS: " + " ".join(failed), flush=True)
        sys.exit(1)
    print("ALL OK", flush=True)


if __name__ == "__main__":
    main()
