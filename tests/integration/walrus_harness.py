"""Start and stop a real overcast-walrus on loopback for tests.

Shared by the pytest suite (conftest.py) and the crash test
(tests/crash/crash_test.py).  It knows only the command-line contracts of
overcast-walrus and overcast-admin; it never reads daemon internals except
the on-disk layout that the crash test checks ($home/walrus/{tmp,objects}).
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.abspath(os.path.join(HERE, "..", ".."))

AWS = "/usr/bin/aws"      # awscli v2 from Debian, not the pyenv shim on PATH
S3CMD = "/usr/bin/s3cmd"
CURL = "/usr/bin/curl"
REGION = "us-east-1"
TEST_ZONE = "zone-a"    # the availability zone start_env registers


class HarnessError(Exception):
    pass


def build_dir():
    """The build tree holding walrus/overcast-walrus (OVERCAST_BUILD)."""
    cands = []
    if os.environ.get("OVERCAST_BUILD"):
        cands.append(os.environ["OVERCAST_BUILD"])
    else:
        cands += [SRCDIR, "/tmp/build-tests"]
    for d in cands:
        if os.access(os.path.join(d, "walrus", "overcast-walrus"), os.X_OK):
            return os.path.abspath(d)
    raise HarnessError("overcast-walrus not found in %s (set OVERCAST_BUILD to the build "
                       "directory)" % " or ".join(cands))


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def clean_env(extra=None):
    """A child environment with no AWS/proxy settings leaking in from outside."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and not k.startswith("OVERCAST_")
           and k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost,.localhost"
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    if extra:
        env.update(extra)
    return env


def parse_shell_vars(path):
    """KEY=value lines of an eucarc (export prefix and quotes allowed)."""
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("export "):
                line = line[len("export "):].strip()
            if "=" not in line:
                continue
            k, v = line.split("=", 1)
            v = v.strip()
            if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
                v = v[1:-1]
            out[k.strip()] = v
    return out


class Admin:
    """overcast-admin wrapper."""

    def __init__(self, build, home, url=None):
        self.exe = os.path.join(build, "euca-compat", "overcast-admin")
        self.home = home
        self.url = url
        if not os.access(self.exe, os.X_OK):
            raise HarnessError("overcast-admin not found at %s" % self.exe)

    def run(self, *args):
        cmd = [self.exe, "--home", self.home] + (["--url", self.url] if self.url else []) \
            + list(args)
        p = subprocess.run(cmd, capture_output=True, text=True, env=clean_env(), timeout=60)
        if p.returncode != 0:
            raise HarnessError("%s failed (%d): %s%s" % (" ".join(cmd), p.returncode,
                                                         p.stdout, p.stderr))
        return p.stdout.strip()

    def new_account_user(self, account, user):
        acct_id = self.run("create-account", account).split()[-1]
        if not (len(acct_id) == 12 and acct_id.isdigit()):
            raise HarnessError("create-account printed %r, not a 12-digit id" % acct_id)
        self.run("create-user", account, user)
        akid, secret = self.new_key(account, user)
        return acct_id, akid, secret

    def new_key(self, account, user):
        out = self.run("create-access-key", account, user).split()
        if len(out) < 2:
            raise HarnessError("create-access-key printed %r" % out)
        return out[-2], out[-1]


class Daemon:
    """One Overcast daemon on 127.0.0.1 with its own home (walrus, clc, ...)."""

    NAME = None      # e.g. "overcast-walrus"
    SUBDIR = None    # build subdirectory holding the executable

    def __init__(self, home, port=None, build=None, env=None):
        self.build = build or build_dir()
        self.exe = os.path.join(self.build, self.SUBDIR, self.NAME)
        self.home = home
        self.port = port or free_port()
        self.extra_env = env or {}
        self.proc = None
        self.logpath = os.path.join(home, "%s-test.log" % self.SUBDIR)
        self.starts = 0

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self, timeout=30):
        self.starts += 1
        log = open(self.logpath, "ab")
        log.write(("\n==== start %d ====\n" % self.starts).encode())
        log.flush()
        cmd = [self.exe, "--home", self.home, "--port", str(self.port), "--bind", "127.0.0.1"]
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                     env=clean_env(self.extra_env), stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise HarnessError("%s exited with %s during start-up:\n%s"
                                   % (self.NAME, self.proc.returncode, self.log_tail()))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        self.kill()
        raise HarnessError("%s not listening on %d after %ds:\n%s"
                           % (self.NAME, self.port, timeout, self.log_tail()))

    def stop(self, timeout=15):
        """SIGTERM, then SIGKILL if it does not exit. Returns the exit code."""
        if self.proc is None:
            return None
        p, self.proc = self.proc, None
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                raise HarnessError("%s ignored SIGTERM for %ds" % (self.NAME, timeout))
        return p.returncode

    def kill(self):
        """kill -9."""
        if self.proc is None:
            return
        p, self.proc = self.proc, None
        if p.poll() is None:
            p.kill()
        p.wait()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, nbytes=20000):
        try:
            with open(self.logpath, "rb") as f:
                data = f.read()
            return data[-nbytes:].decode("utf-8", "replace")
        except OSError:
            return "(no log)"


class Walrus(Daemon):
    NAME = "overcast-walrus"
    SUBDIR = "walrus"

    def __init__(self, home, port=None, build=None, env=None, clc=None):
        env = dict(env or {})
        if clc is not None:
            env.setdefault("OVERCAST_CLC_URL", clc.endpoint)
        Daemon.__init__(self, home, port, build, env)
        if clc is None:
            self.logpath = os.path.join(home, "walrus-test.log")


class Clc(Daemon):
    NAME = "overcast-clc"
    SUBDIR = "clc"

    def command(self, *args):
        """overcast-clc --home H ARGS (bootstrap, register-cluster, ...)."""
        p = subprocess.run([self.exe, "--home", self.home] + [str(a) for a in args],
                           capture_output=True, text=True, env=clean_env(self.extra_env),
                           timeout=60)
        if p.returncode != 0:
            raise HarnessError("overcast-clc %s failed (%d): %s%s"
                               % (" ".join(map(str, args)), p.returncode, p.stdout, p.stderr))
        return p.stdout

    def register_cluster(self, zone, host="127.0.0.1", port=8774):
        return self.command("register-cluster", zone, host, port)

    def bootstrap(self):
        p = subprocess.run([self.exe, "--home", self.home, "bootstrap"], capture_output=True,
                           text=True, env=clean_env(self.extra_env), timeout=60)
        if p.returncode != 0:
            raise HarnessError("overcast-clc bootstrap failed (%d): %s%s"
                               % (p.returncode, p.stdout, p.stderr))
        eucarc = os.path.join(self.home, "admin", "eucarc")
        if not os.path.exists(eucarc):
            raise HarnessError("bootstrap did not write %s" % eucarc)
        v = parse_shell_vars(eucarc)
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            if not v.get(k):
                raise HarnessError("eucarc lacks %s: %r" % (k, v))
        return v


class Env:
    """Everything a test needs: endpoint, principals, config files, tools."""

    def __init__(self, tmp, walrus, admin, creds1, creds2, acct1, acct2):
        self.tmp = tmp
        self.walrus = walrus
        self.admin = admin
        self.endpoint = walrus.endpoint
        self.port = walrus.port
        self.home = walrus.home
        self.ak1, self.sk1 = creds1
        self.ak2, self.sk2 = creds2
        self.acct1 = acct1          # eucalyptus admin account id (may be None)
        self.acct2 = acct2
        self.aws_config = os.path.join(tmp, "aws-config")
        self.aws_creds = os.path.join(tmp, "aws-credentials")
        with open(self.aws_creds, "w") as f:
            f.write("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n\n"
                    "[user2]\naws_access_key_id = %s\naws_secret_access_key = %s\n\n"
                    "[badsecret]\naws_access_key_id = %s\naws_secret_access_key = %s\n\n"
                    "[badkey]\naws_access_key_id = AKIANOSUCHKEY0000000\n"
                    "aws_secret_access_key = %s\n\n"
                    % (self.ak1, self.sk1, self.ak2, self.sk2, self.ak1,
                       "x" * 40, "y" * 40))
        self.clc = None
        self.ak3 = self.sk3 = self.acct3 = None
        with open(self.aws_config, "w") as f:
            for prof in ("default", "profile user2", "profile user3", "profile badsecret",
                         "profile badkey"):
                f.write("[%s]\nregion = %s\noutput = json\ns3 =\n"
                        "  addressing_style = path\n\n" % (prof, REGION))

    def add_user3(self, ak3, sk3, acct3):
        self.ak3, self.sk3, self.acct3 = ak3, sk3, acct3
        with open(self.aws_creds, "a") as f:
            f.write("[user3]\naws_access_key_id = %s\naws_secret_access_key = %s\n\n"
                    % (ak3, sk3))

    def keys(self, who):
        return {1: (self.ak1, self.sk1), 2: (self.ak2, self.sk2),
                3: (self.ak3, self.sk3)}[who]

    def shutdown(self):
        """Stops Walrus then the CLC; returns Walrus's exit code."""
        rc = None
        try:
            rc = self.walrus.stop()
        finally:
            if self.clc is not None:
                self.clc.stop()
        return rc

    # ---- the CLC: EC2 and IAM ----
    @property
    def ec2_endpoint(self):
        return self.clc.endpoint

    def _boto3(self, service, who, endpoint, **kw):
        import boto3
        from botocore.config import Config
        ak, sk = self.keys(who)
        cfg = kw.pop("config", None) or Config(
            retries={"max_attempts": 1, "mode": "standard"},
            connect_timeout=10, read_timeout=120)
        return boto3.session.Session().client(
            service, endpoint_url=endpoint, region_name=REGION,
            aws_access_key_id=kw.pop("access_key", ak),
            aws_secret_access_key=kw.pop("secret_key", sk), config=cfg, **kw)

    def ec2(self, who=1, **kw):
        return self._boto3("ec2", who, kw.pop("endpoint_url", self.clc.endpoint), **kw)

    def iam(self, who=1, **kw):
        return self._boto3("iam", who, kw.pop("endpoint_url",
                                              self.clc.endpoint + "/services/Euare"), **kw)

    def boto2_ec2(self, who=1, **kw):
        """A boto2 EC2 connection signing with Query SigV2 (HmacSHA256), as
        euca2ools-era boto did.  boto 2.49 defaults EC2 to SigV4, whose
        service name it guesses from the host name (useless for
        127.0.0.1), so the SigV2 handler ('ec2' capability) is asked for."""
        import boto
        import boto.ec2
        from boto.ec2.regioninfo import RegionInfo
        ak, sk = self.keys(who)
        region = RegionInfo(name=REGION, endpoint="127.0.0.1")

        class SigV2EC2Connection(boto.ec2.connection.EC2Connection):
            def _required_auth_capability(self):
                return ["ec2"]

        return SigV2EC2Connection(
            aws_access_key_id=kw.pop("access_key", ak),
            aws_secret_access_key=kw.pop("secret_key", sk), is_secure=False,
            region=region, port=self.clc.port, path=kw.pop("path", "/services/compute"),
            **kw)

    def ec2cli(self, *args, profile="default", check=True, timeout=120, endpoint=None):
        """aws --endpoint-url <CLC> ...; use endpoint= for /services/Euare."""
        cmd = [AWS, "--endpoint-url", endpoint or self.clc.endpoint, "--profile", profile,
               "--no-cli-pager"] + [str(a) for a in args]
        p = subprocess.run(cmd, capture_output=True, text=True, env=self.aws_env(),
                           timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError("aws %s failed (%d):\nstdout: %s\nstderr: %s"
                                 % (" ".join(map(str, args)), p.returncode, p.stdout,
                                    p.stderr))
        return p

    def iamcli(self, *args, **kw):
        return self.ec2cli(*args, endpoint=self.clc.endpoint + "/services/Euare", **kw)

    # ---- boto3 ----
    def client(self, who=1, **kw):
        import boto3
        from botocore.config import Config
        ak, sk = (self.ak1, self.sk1) if who == 1 else (self.ak2, self.sk2)
        ak = kw.pop("access_key", ak)
        sk = kw.pop("secret_key", sk)
        cfg = kw.pop("config", None) or Config(
            signature_version=kw.pop("signature_version", "s3v4"),
            s3={"addressing_style": kw.pop("addressing_style", "path")},
            retries={"max_attempts": 1, "mode": "standard"},
            connect_timeout=10, read_timeout=120)
        return boto3.session.Session().client(
            "s3", endpoint_url=kw.pop("endpoint_url", self.endpoint), region_name=REGION,
            aws_access_key_id=ak, aws_secret_access_key=sk, config=cfg, **kw)

    # ---- subprocess clients ----
    def aws_env(self):
        return clean_env({"AWS_CONFIG_FILE": self.aws_config,
                          "AWS_SHARED_CREDENTIALS_FILE": self.aws_creds,
                          "AWS_PAGER": "", "HOME": self.tmp})

    def aws(self, *args, profile="default", check=True, timeout=300, cwd=None):
        cmd = [AWS, "--endpoint-url", self.endpoint, "--profile", profile,
               "--no-cli-pager"] + [str(a) for a in args]
        p = subprocess.run(cmd, capture_output=True, text=True, env=self.aws_env(),
                           timeout=timeout, cwd=cwd)
        if check and p.returncode != 0:
            raise AssertionError("aws %s failed (%d):\nstdout: %s\nstderr: %s"
                                 % (" ".join(map(str, args)), p.returncode, p.stdout,
                                    p.stderr))
        return p

    def s3cmd_config(self, sigv2, who=1):
        path = os.path.join(self.tmp, "s3cfg-%s-%d" % ("v2" if sigv2 else "v4", who))
        ak, sk = (self.ak1, self.sk1) if who == 1 else (self.ak2, self.sk2)
        with open(path, "w") as f:
            f.write("[default]\n"
                    "access_key = %s\nsecret_key = %s\n"
                    "host_base = 127.0.0.1:%d\nhost_bucket = 127.0.0.1:%d\n"
                    "bucket_location = %s\n"
                    "use_https = False\n"
                    "signature_v2 = %s\n"
                    "check_ssl_certificate = False\n"
                    "proxy_host = \nproxy_port = 0\n"
                    "multipart_chunk_size_mb = 15\n"
                    "socket_timeout = 60\n"
                    % (ak, sk, self.port, self.port, REGION, "True" if sigv2 else "False"))
        return path

    def s3cmd(self, *args, sigv2=False, who=1, check=True, timeout=300):
        cmd = [S3CMD, "-c", self.s3cmd_config(sigv2, who)] + [str(a) for a in args]
        p = subprocess.run(cmd, capture_output=True, text=True,
                           env=clean_env({"HOME": self.tmp}), timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError("s3cmd %s failed (%d):\nstdout: %s\nstderr: %s"
                                 % (" ".join(map(str, args)), p.returncode, p.stdout,
                                    p.stderr))
        return p


def curl(*args, data_out=None, timeout=120):
    """curl -s; returns (status, headers_text, body_bytes)."""
    hdr = tempfile.NamedTemporaryFile(delete=False)
    hdr.close()
    try:
        cmd = [CURL, "-sS", "--noproxy", "*", "-D", hdr.name, "-o", data_out or "-"] + list(args)
        p = subprocess.run(cmd, capture_output=True, env=clean_env(), timeout=timeout)
        if p.returncode != 0:
            raise AssertionError("curl %s failed (%d): %s" % (args, p.returncode, p.stderr))
        with open(hdr.name, "rb") as f:
            headers = f.read().decode("latin-1")
    finally:
        os.unlink(hdr.name)
    # The last status line wins (100 Continue precedes the real one).
    status = 0
    for line in headers.splitlines():
        if line.startswith("HTTP/"):
            status = int(line.split()[1])
    return status, headers, p.stdout


def start_env(tmp, walrus_env=None, clc_env=None):
    """Bootstrap a home in tmp, start the CLC, create the second and third
    accounts through it, start Walrus authenticating through the CLC."""
    build = build_dir()
    home = os.path.join(tmp, "home")
    os.makedirs(home, exist_ok=True)
    # The CLC reads image objects from Walrus: tell it where Walrus will be.
    wport = free_port()
    clc = Clc(home, build=build, env=dict({"OVERCAST_WALRUS_URL": "http://127.0.0.1:%d" % wport},
                                          **(clc_env or {})))
    rc = clc.bootstrap()
    # One zone, as the all-in-one cloud has (no CC answers there yet).
    clc.register_cluster(TEST_ZONE)
    clc.start()
    try:
        admin = Admin(build, home, url=clc.endpoint + "/services/Euare")
        creds1 = (rc["AWS_ACCESS_KEY_ID"], rc["AWS_SECRET_ACCESS_KEY"])
        acct2, ak2, sk2 = admin.new_account_user("testacct2", "user2")
        acct3, ak3, sk3 = admin.new_account_user("testacct3", "user3")
        w = Walrus(home, port=wport, build=build, env=walrus_env, clc=clc)
        w.start()
    except Exception:
        clc.stop()
        raise
    env = Env(tmp, w, admin, creds1, (ak2, sk2), rc.get("EC2_ACCOUNT_NUMBER"), acct2)
    env.clc = clc
    env.add_user3(ak3, sk3, acct3)
    return env


def print_log(w, out=sys.stderr):
    out.write("\n----- %s log (%s) -----\n%s\n----- end of log -----\n"
              % (w.NAME, w.logpath, w.log_tail()))
