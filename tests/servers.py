"""Real servers for the team tests, each started on 127.0.0.1 in a tmp folder with its own config
and stopped after: sshd (generated host and user keys) with gitolite under a tmp HOME, nginx with
fcgiwrap and git-http-backend over HTTPS (a self-signed certificate, basic auth), and moto's S3
server. Nothing of the machine's configuration is read or changed (sshd's empty privilege
separation folder aside, which it needs when started as root)."""

from __future__ import annotations

import base64
import contextlib
import getpass
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import optional, optional_programs

SSHD = "/usr/sbin/sshd"
GITOLITE = shutil.which("gitolite") or "/usr/bin/gitolite"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
FCGIWRAP = shutil.which("fcgiwrap") or "/usr/sbin/fcgiwrap"
HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"
# the gittrack the servers' hooks import: this checkout's (the tests may run from a worktree)
SOURCE = str(Path(__file__).resolve().parents[1])


def need(*programs: str) -> None:
    """Skip (fail under CI, where .ci/run installs them) when a server program is missing."""
    optional_programs(*programs, install="apt-get install gitolite3 openssh-server nginx fcgiwrap")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int, proc: subprocess.Popen, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} did not listen on 127.0.0.1:{port}")


def start(argv: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """A server process in its own process group (stopped with ``stop``), its output in ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def stop(*procs: subprocess.Popen) -> None:
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def keygen(path: Path, comment: str) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True)
    return path


@dataclass
class Ssh:
    """sshd on 127.0.0.1:``port``; every key logs in as this machine's user (``login``), gitolite's
    keys with its forced command, ``storage`` (DVC's SSH remote) with a plain shell."""

    folder: Path
    port: int
    login: str
    gitolite_home: Path
    keys: dict[str, Path] = field(default_factory=dict)
    proc: subprocess.Popen | None = None

    def command(self, user: str) -> str:
        """The ``ssh`` command line git runs for ``user`` (``core.sshCommand``)."""
        return (
            f"ssh -F /dev/null -i {self.keys[user]} -o IdentitiesOnly=yes -o BatchMode=yes "
            f"-o UserKnownHostsFile={self.folder / 'known_hosts'} -o StrictHostKeyChecking=no -o LogLevel=ERROR"
        )

    def url(self, repo: str) -> str:
        return f"ssh://{self.login}@127.0.0.1:{self.port}/{repo}"

    def gitolite(self, *args: str) -> str:
        env = {**os.environ, "HOME": str(self.gitolite_home)}
        result = subprocess.run([GITOLITE, *args], env=env, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def configure(self, conf: str, rc: str, hook: str, users: list[str]) -> None:
        """gitolite set up as docs/team-server.md says: on the server, the rc lines and the common
        pre-receive hook ('gitolite setup' installs it); then the admin pushes the rules and a key
        per user through gitolite-admin, which compiles them and creates the repositories."""
        home = self.gitolite_home
        rc_file = home / ".gitolite.rc"
        text = rc_file.read_text()
        if "gittrack" not in text:
            text = text.replace(
                '        # LOCAL_CODE                =>  "$ENV{HOME}/local",',
                '        LOCAL_CODE => "$ENV{HOME}/local",',
            )
            rc_file.write_text(text.replace("\n1;", "\n" + rc + "\n1;"))
        hooks = home / "local" / "hooks" / "common"
        hooks.mkdir(parents=True, exist_ok=True)
        (hooks / "pre-receive").write_text(hook)
        (hooks / "pre-receive").chmod(0o755)
        self.gitolite("setup")
        admin = self.folder / "gitolite-admin"
        env = {**os.environ, "GIT_SSH_COMMAND": self.command("admin")}
        if not admin.exists():
            subprocess.run(["git", "clone", "-q", self.url("gitolite-admin"), str(admin)], env=env, check=True,
                           capture_output=True)  # fmt: skip
        for user in users:
            if user not in self.keys:
                self.keys[user] = keygen(self.folder / f"id_{user}", user)
            shutil.copy(self.keys[user].with_suffix(".pub"), admin / "keydir" / f"{user}.pub")
        (admin / "conf" / "gitolite.conf").write_text('repo gitolite-admin\n    RW+ = admin\n\ninclude "team.conf"\n')
        (admin / "conf" / "team.conf").write_text(conf)
        for args in (["add", "-A"], ["commit", "-q", "-m", "Team permissions"], ["push", "-q", "origin", "HEAD"]):
            result = subprocess.run(["git", "-c", "user.name=admin", "-c", "user.email=admin@example.com", *args],
                                    cwd=admin, env=env, capture_output=True, text=True, check=False)  # fmt: skip
            assert result.returncode == 0, f"git {args[0]} in gitolite-admin: {result.stderr}"
        storage = self.keys.get("storage") or keygen(self.folder / "id_storage", "storage")
        self.keys["storage"] = storage
        authorized = home / ".ssh" / "authorized_keys"
        lines = authorized.read_text()
        if "storage" not in lines:
            authorized.write_text(lines + storage.with_suffix(".pub").read_text())


def start_ssh(folder: Path) -> Ssh:
    """sshd and an empty gitolite (its admin key only) under ``folder``."""
    need(SSHD, GITOLITE, "ssh")
    folder.mkdir(parents=True, exist_ok=True)
    home = folder / "gitolite-home"
    home.mkdir()
    ssh = Ssh(folder, free_port(), getpass.getuser(), home)
    ssh.keys["admin"] = keygen(folder / "id_admin", "admin")
    env = {**os.environ, "HOME": str(home)}
    subprocess.run([GITOLITE, "setup", "-pk", str(ssh.keys["admin"].with_suffix(".pub"))], env=env,
                   check=True, capture_output=True)  # fmt: skip
    host_key = keygen(folder / "host_ed25519", "host")
    config = folder / "sshd_config"
    config.write_text(
        f"Port {ssh.port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile {folder / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {home / '.ssh' / 'authorized_keys'}\n"
        "StrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        f"PermitRootLogin prohibit-password\nAllowUsers {ssh.login}\nLogLevel ERROR\nSubsystem sftp internal-sftp\n"
        # gitolite and the hooks live under this HOME; the hooks import this checkout's gittrack
        f"SetEnv HOME={home} PYTHONPATH={SOURCE}\n"
    )
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    ssh.proc = start([SSHD, "-D", "-e", "-f", str(config)], folder / "sshd.log")
    wait_for(ssh.port, ssh.proc, "sshd")
    return ssh


def htpasswd(users: dict[str, str]) -> str:
    """An htpasswd file's text in nginx's salted SHA-1 scheme ({SSHA})."""
    lines = []
    for user, password in users.items():
        salt = os.urandom(8)
        digest = hashlib.sha1(password.encode() + salt).digest()
        lines.append(f"{user}:{{SSHA}}{base64.b64encode(digest + salt).decode()}")
    return "\n".join(lines) + "\n"


@dataclass
class Https:
    """nginx on https://127.0.0.1:``port`` serving the bare repositories in ``root`` through
    fcgiwrap and git-http-backend, with basic auth; ``ca``: the certificate git must trust."""

    folder: Path
    port: int
    root: Path
    ca: Path
    procs: list[subprocess.Popen] = field(default_factory=list)

    def url(self, repo: str, user: str | None = None, password: str | None = None) -> str:
        auth = f"{user}:{password}@" if user else ""
        return f"https://{auth}127.0.0.1:{self.port}/{repo}"


def start_https(folder: Path, users: dict[str, str], cgi: str) -> Https:
    """nginx + fcgiwrap; ``cgi``: the script fcgiwrap runs for every git URL (``server-rules
    --kind http-cgi``)."""
    need(NGINX, FCGIWRAP, HTTP_BACKEND, "openssl")
    folder.mkdir(parents=True, exist_ok=True)
    root = folder / "repos"
    root.mkdir()
    for sub in ("logs", "tmp"):
        (folder / sub).mkdir()
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    (folder / "htpasswd").write_text(htpasswd(users))
    script = folder / "git-cgi"
    script.write_text(cgi)
    script.chmod(0o755)
    socket_path = folder / "fcgiwrap.sock"
    fcgi = start([FCGIWRAP, "-c", "2", "-s", f"unix:{socket_path}"], folder / "fcgiwrap.log",
                 {"PATH": os.environ["PATH"]})  # fmt: skip
    for _ in range(200):
        if socket_path.exists():
            break
        time.sleep(0.05)
    port = free_port()
    tmp = folder / "tmp"
    user = "user root;\n" if os.geteuid() == 0 else ""
    (folder / "nginx.conf").write_text(f"""{user}worker_processes 1;
daemon off;
pid {folder / "nginx.pid"};
error_log {folder / "logs" / "error.log"} warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body; fastcgi_temp_path {tmp}/fastcgi; proxy_temp_path {tmp}/proxy;
    uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    client_max_body_size 0;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert}; ssl_certificate_key {key};
        location / {{
            auth_basic "git"; auth_basic_user_file {folder / "htpasswd"};
            fastcgi_pass unix:{socket_path};
            fastcgi_param SCRIPT_FILENAME {script};
            fastcgi_param GIT_PROJECT_ROOT {root};
            fastcgi_param GIT_HTTP_EXPORT_ALL "";
            fastcgi_param PATH_INFO $uri;
            fastcgi_param QUERY_STRING $query_string;
            fastcgi_param REQUEST_METHOD $request_method;
            fastcgi_param CONTENT_TYPE $content_type;
            fastcgi_param CONTENT_LENGTH $content_length;
            fastcgi_param REMOTE_USER $remote_user;
            fastcgi_param REMOTE_ADDR $remote_addr;
            fastcgi_param HTTP_CONTENT_ENCODING $http_content_encoding;
            fastcgi_param GIT_PROTOCOL $http_git_protocol;
            fastcgi_param PYTHONPATH {SOURCE};
            fastcgi_param HOME {folder};
            fastcgi_param PATH {os.environ["PATH"]};
        }}
    }}
}}
""")
    nginx = start([NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf")], folder / "nginx.log")
    wait_for(port, nginx, "nginx")
    return Https(folder, port, root, cert, [fcgi, nginx])


@dataclass
class S3:
    """moto's S3 server on http://127.0.0.1:``port`` with a bucket; ``keys``: user -> (key id,
    secret) of IAM users allowed everything (moto checks signatures once the set-up is done)."""

    port: int
    bucket: str
    keys: dict[str, tuple[str, str]]
    proc: subprocess.Popen

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_s3(folder: Path, bucket: str, users: list[str]) -> S3:
    """moto_server with authentication on: the first calls (the bucket, the users, their keys and
    policies) go unchecked, every later one needs a valid key."""
    boto3 = optional("boto3", "moto's S3 server is set up through boto3: pip install 'moto[s3]'")
    server = Path(sys.executable).parent / "moto_server"
    need(str(server))
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    setup_calls = 1 + 3 * len(users)
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(setup_calls)}
    proc = start([str(server), "-H", "127.0.0.1", "-p", str(port)], folder / "moto.log", env)
    wait_for(port, proc, "moto_server")
    endpoint = f"http://127.0.0.1:{port}"
    common = {"endpoint_url": endpoint, "region_name": "us-east-1", "aws_access_key_id": "setup",
              "aws_secret_access_key": "setup"}  # fmt: skip
    boto3.client("s3", **common).create_bucket(Bucket=bucket)
    iam = boto3.client("iam", **common)
    keys = {}
    policy = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}'
    for user in users:
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName="all", PolicyDocument=policy)
        made = iam.create_access_key(UserName=user)["AccessKey"]
        keys[user] = (made["AccessKeyId"], made["SecretAccessKey"])
    return S3(port, bucket, keys, proc)
