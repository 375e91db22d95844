#!/usr/bin/env python3
# Regenerates the hand-made seeds in fuzz/corpus/ (and copies the parser fixtures of
# crates/build/tests/corpus and tests/build-fixtures). Run from anywhere: python3 fuzz/seeds.py
# The files it writes are checked in; this script is how they were made.
import os, io, tarfile, gzip, struct, json, glob, shutil
R = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
C = R + '/fuzz/corpus'
def put(target, name, data):
    d = f'{C}/{target}'; os.makedirs(d, exist_ok=True)
    if isinstance(data, str): data = data.encode()
    open(f'{d}/{name}', 'wb').write(data)

# dockerfile: our parser test corpus and build fixtures, plus expansion words
for p in sorted(glob.glob(R + '/crates/build/tests/corpus/*.Dockerfile')):
    put('dockerfile', os.path.basename(p), open(p, 'rb').read())
for p in sorted(glob.glob(R + '/tests/build-fixtures/*/Dockerfile*')):
    put('dockerfile', 'fixture-' + p.split('/')[-2] + '-' + os.path.basename(p), open(p, 'rb').read())
put('dockerfile', 'expand.table', open(R + '/crates/build/tests/corpus/expand.table', 'rb').read())
put('dockerfile', 'hand-expand.Dockerfile', '''ARG BASE=alpine
FROM ${BASE:-busybox}:${TAG:+x} AS b
ENV A="a b" B='$A' C=${A%% *} D=${A#*a} E=${UNSET-def} F=${SPACE:?oops}
COPY --from=b --chown=${A}:x "src dir" ${DEST:-/d}/
ADD <<EOF /x
$A
EOF
ONBUILD COPY $X /y
EXPOSE ${P:-80}/tcp 443
WORKDIR \\$HOME/${A}
RUN <<-'EOT' bash
\techo $A
\tEOT
HEALTHCHECK --interval=1m30s --timeout=1.5s CMD ["true"]
''')

# dockerignore: rules, "---", paths
cases = {}
for p in sorted(glob.glob(R + '/crates/build/tests/corpus/ignore/*.dockerignore')):
    name = os.path.basename(p)[:-len('.dockerignore')]
    rules = open(p).read()
    paths = []
    cp = p[:-len('.dockerignore')] + '.cases'
    if os.path.exists(cp):
        for l in open(cp):
            l = l.strip()
            if l and not l.startswith('#'):
                paths.append(l.split()[-1] if ' ' in l else l)
    put('dockerignore', name, rules + '\n---\n' + '\n'.join(paths[:30]) + '\n')
put('dockerignore', 'fixture-copy', open(R + '/tests/build-fixtures/copy/.dockerignore').read() + '\n---\napp/x\nbuild/a\ndocs/keep.md\nnotes.log\n')

# layer_tar: byte 0 = flags (bit0 overlay whiteouts, bit1 compact form)
def tarbytes(entries, fmt=tarfile.GNU_FORMAT):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode='w', format=fmt) as t:
        for e in entries:
            ti = tarfile.TarInfo(e[0]); ti.type = e[1]; ti.mode = e[3] if len(e) > 3 else 0o644
            ti.mtime = 1700000000
            data = b''
            if e[1] in (tarfile.SYMTYPE, tarfile.LNKTYPE): ti.linkname = e[2]
            elif e[1] == tarfile.REGTYPE: data = e[2]; ti.size = len(data)
            if len(e) > 4: ti.pax_headers = e[4]
            t.addfile(ti, io.BytesIO(data) if data else None)
    return b.getvalue()
D, F, S, L = tarfile.DIRTYPE, tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE
normal = tarbytes([('etc', D, '', 0o755), ('etc/passwd', F, b'root:x:0:0::/root:/bin/sh\n'),
    ('bin', D, '', 0o755), ('bin/sh', F, b'\x7fELF', 0o755), ('bin/ash', L, 'bin/sh'),
    ('usr/lib/os-release', F, b'ID=x\n'), ('etc/os-release', S, '../usr/lib/os-release'),
    ('ro', D, '', 0o555), ('ro/f', F, b'x', 0o444)])
put('layer_tar', 'normal', b'\x00' + normal)
put('layer_tar', 'normal-overlay', b'\x01' + normal)
put('layer_tar', 'normal-gzip', b'\x00' + gzip.compress(normal, mtime=0))
put('layer_tar', 'whiteouts', b'\x00' + tarbytes([('a', D, ''), ('a/.wh..wh..opq', F, b''), ('a/new', F, b'n'), ('.wh.etc', F, b''), ('b/.wh.c', F, b'')]))
put('layer_tar', 'whiteouts-overlay', b'\x01' + tarbytes([('a', D, ''), ('a/.wh..wh..opq', F, b''), ('.wh.gone', F, b'')]))
put('layer_tar', 'pax-xattr', b'\x00' + tarbytes([('x', F, b'x', 0o644, {'SCHILY.xattr.user.k': 'v', 'SCHILY.xattr.trusted.overlay.opaque': 'y'})], tarfile.PAX_FORMAT))
# escape attempts (all must be refused or stay inside)
put('layer_tar', 'escape-dotdot', b'\x00' + tarbytes([('../outside/file', F, b'pwned')]))
put('layer_tar', 'escape-symlink-dir', b'\x00' + tarbytes([('evil', S, '../outside'), ('evil/file', F, b'pwned')]))
put('layer_tar', 'escape-abs-symlink', b'\x00' + tarbytes([('evil', S, '/tmp'), ('evil/x', F, b'pwned')]))
put('layer_tar', 'escape-hardlink', b'\x00' + tarbytes([('h', L, '../outside/file'), ('h', F, b'pwned')]))
put('layer_tar', 'escape-symlink-then-link', b'\x00' + tarbytes([('l', S, '../outside/file'), ('h', L, 'l'), ('l', F, b'pwned')]))
put('layer_tar', 'escape-whiteout', b'\x00' + tarbytes([('evil', S, '../outside'), ('evil/.wh.file', F, b''), ('.wh...', F, b'')]))
put('layer_tar', 'escape-opaque', b'\x00' + tarbytes([('evil', S, '..'), ('evil/.wh..wh..opq', F, b'')]))
# compact form: [type][name len][name][link len][link][mode][data len][data]
def ce(t, name, link=b'', mode=0, data=b''):
    return bytes([t, len(name)]) + name + bytes([len(link)]) + link + bytes([mode, len(data)]) + data
put('layer_tar', 'compact-escapes', b'\x02' + ce(2, b'evil', b'../outside') + ce(0, b'evil/file', data=b'pwned') + ce(3, b'h', b'../outside/file') + ce(0, b'../x', data=b'x'))
put('layer_tar', 'compact-normal', b'\x02' + ce(1, b'd', mode=1) + ce(0, b'd/f', data=b'hello') + ce(3, b'd/g', b'd/f') + ce(2, b'd/s', b'f') + ce(4, b'p') + ce(0, b'd/.wh.f'))

# image_json
dg = lambda c: 'sha256:' + c * 64
put('image_json', 'docker-manifest', json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": dg('1'), "size": 10},
    "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": dg('2'), "size": 20}]}))
put('image_json', 'oci-manifest', json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": dg('1'), "size": 10},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd", "digest": dg('2'), "size": 20}], "annotations": {"a": "b"}}))
put('image_json', 'docker-list', json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json", "manifests": [
    {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": dg('a'), "size": 1, "platform": {"architecture": "arm", "os": "linux", "variant": "v7"}},
    {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": dg('b'), "size": 1, "platform": {"architecture": "amd64", "os": "linux"}}]}))
put('image_json', 'oci-index-no-mediatype', json.dumps({"schemaVersion": 2, "manifests": [
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": dg('c'), "size": 5, "platform": {"architecture": "unknown", "os": "unknown"}}]}))
cfg = {"architecture": "amd64", "os": "linux", "created": "2026-11-23T12:00:00Z",
       "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"], "Labels": {"a": "b"}, "ExposedPorts": {"80/tcp": {}}, "Volumes": {"/data": {}}},
       "rootfs": {"type": "layers", "diff_ids": [dg('d')]}, "history": [{"created_by": "x"}]}
put('image_json', 'config', json.dumps(cfg))
put('image_json', 'config-changes', json.dumps(cfg) + '\n---\nCMD ["a","b"]\nENTRYPOINT /bin/sh\nENV A=1 B="2"\nENV C 3\nEXPOSE 80 53/udp\nVOLUME ["/v"]\nLABEL k=v "q"="r"\nWORKDIR /w\nUSER 1:2\nSTOPSIGNAL TERM\n')
put('image_json', 'schema1', '{"schemaVersion":1,"mediaType":"application/vnd.docker.distribution.manifest.v1+prettyjws"}')
put('image_json', 'platform', 'linux/arm64/v8')

# reference
for i, r in enumerate(['busybox', 'library/alpine:3.19', 'ns/app:1.0', 'localhost:5000/a/b:latest', '127.0.0.1:5000/x',
        'index.docker.io/library/alpine:3', 'registry-1.docker.io/x/y', 'ghcr.io/o/r/s@' + dg('e'),
        'host:5000/ns/name:tag@' + dg('f'), 'a.b-c_d__e/f', 'example.com/' + 'x' * 200 + ':t']):
    put('reference', f'r{i}', r)

# dns
def q(id, name, qtype, flags=0x0100, edns=None, qclass=1):
    m = struct.pack('>HHHHHH', id, flags, 1, 0, 0, 1 if edns else 0)
    for l in name.split('.'):
        if l: m += bytes([len(l)]) + l.encode()
    m += b'\0' + struct.pack('>HH', qtype, qclass)
    if edns: m += b'\0' + struct.pack('>HHIH', 41, edns, 0, 0)
    return m
put('dns', 'a', q(1, 'web', 1))
put('dns', 'a-fqdn-edns', q(2, 'Web.Net', 1, edns=4096))
put('dns', 'aaaa', q(3, 'web', 28))
put('dns', 'ptr', q(4, '2.0.18.172.in-addr.arpa', 12))
put('dns', 'any-chaos', q(5, 'version.bind', 255, qclass=3))
put('dns', 'notify', q(6, 'x', 1, flags=0x2000))
put('dns', 'root', q(7, '', 2))
put('dns', 'compressed', struct.pack('>HHHHHH', 8, 0, 1, 0, 0, 0) + b'\x03abc\xc0\x0c' + b'\0\1\0\1')
put('dns', 'escapes', q(9, 'a\\b', 1)[:12] + b'\x03a.b\x02\x00\xff\x00\x00\x01\x00\x01')

# api_create
body = {"Hostname": "", "User": "web", "AttachStdout": True, "Tty": False, "OpenStdin": False,
    "Env": ["A=1"], "Cmd": ["sh", "-c", "echo hi"], "Image": "busybox", "WorkingDir": "/w", "Entrypoint": None,
    "Labels": {"a": "b"}, "ExposedPorts": {"80/tcp": {}}, "Volumes": {"/data": {}}, "StopSignal": "SIGTERM", "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 1000000000},
    "HostConfig": {"Binds": ["/tmp:/host:ro"], "NetworkMode": "default", "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]},
        "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}, "AutoRemove": False, "CapAdd": ["NET_ADMIN"], "CapDrop": ["MKNOD"],
        "Dns": ["1.1.1.1"], "ExtraHosts": ["h:1.2.3.4"], "Privileged": False, "ReadonlyRootfs": True, "SecurityOpt": ["no-new-privileges", "seccomp=unconfined"],
        "Tmpfs": {"/run": "rw,size=64m"}, "ShmSize": 0, "Memory": 67108864, "NanoCpus": 500000000, "PidsLimit": 100, "Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}],
        "Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/n", "CgroupPermissions": "rwm"}], "Sysctls": {"net.ipv4.ip_forward": "1"},
        "LogConfig": {"Type": "json-file", "Config": {"max-size": "10m", "max-file": "3"}}, "Mounts": [{"Type": "volume", "Source": "v", "Target": "/v"}]},
    "NetworkingConfig": {"EndpointsConfig": {"mynet": {"Aliases": ["db"], "IPAMConfig": {"IPv4Address": "172.20.0.5"}}, "other": {}}}}
put('api_create', 'docker-cli', json.dumps(body))
put('api_create', 'named', 'name=web\n' + json.dumps({"Image": "alpine", "Cmd": ["true"], "HostConfig": {"NetworkMode": "host", "Init": True, "UsernsMode": "host", "PidMode": "host"}}))
put('api_create', 'compose', json.dumps({"Image": "x", "Entrypoint": ["/e"], "HostConfig": {"NetworkMode": "proj_default", "Binds": ["v:/d:rw,z"], "IpcMode": "shareable", "CgroupnsMode": "private"},
    "NetworkingConfig": {"EndpointsConfig": {"proj_default": {"Aliases": ["svc"]}}}}))
put('api_create', 'empty', '')

# api_filters
for i, s in enumerate(['filters=%7B%22label%22%3A%7B%22a%3Db%22%3Atrue%7D%2C%22status%22%3A%7B%22running%22%3Atrue%7D%7D&all=1',
        'filters={"name":["web"],"dangling":["true"]}&limit=10&detachKeys=ctrl-p,ctrl-q',
        '{"label":["a=b","c"],"label!":{"x":false}}', 'all=false&stream=0&detachKeys=a,ctrl-@&filters=']):
    put('api_filters', f'q{i}', s)

# json_log: byte 0 mode (bit0 writer mode, bit1 rotation)
lines = ''.join(json.dumps({"log": l, "stream": s, "time": t}) + '\n' for l, s, t in [
    ("hello\n", "stdout", "2026-11-23T12:00:00.123456789Z"), ("err\n", "stderr", "2026-11-23T12:00:01Z"),
    ("part", "stdout", "2026-11-23T12:00:01.5+01:00"), ("ial\n", "stdout", "2026-11-23T12:00:02Z")])
put('json_log', 'file', b'\x00' + lines.encode())
put('json_log', 'file-tail', b'\x04' + lines.encode() + b'{"log":"no newline","stream":"stdout","time":"2026-11-23T12:00:03Z"}')
put('json_log', 'file-junk', b'\x06' + b'garbage\n\n{"log":1}\n' + lines.encode() + b'{"log":"x","stream":"stdin","time":"bad"}\n')
put('json_log', 'writer', b'\x01' + 'line one\nline two\npartial\x00to stderr\n\x00more\n'.encode())
put('json_log', 'writer-rotate', b'\x03' + ('x' * 120 + '\n').encode() * 8 + '\x00<html>&"\\\u2028é\n'.encode())
