# The notebook's result (python3 -c "$RESULT" WORK OUT): the file outputs/result.json under the
# work directory WORK, checked and written to the file OUT as compact UTF-8 JSON, exit status 0.
# Exit status 3 is no such file; 4 is a file that is no result, with the reason on stdout (1,
# with a traceback, is this script failing). The notebook wrote the file, so it is untrusted:
# opened without following links, read only if it is a regular file, never more than the
# limit; the value must be JSON that the service's parser takes back (no NaN, no lone
# surrogate, no number beyond a double) and nest no deeper than the service reads.
import errno, json, os, stat, sys

NAME = "outputs/result.json"
MAX_BYTES, MAX_DEPTH = 64 * 1024, 32


def refuse(reason):
    print(f"{NAME} {reason}")
    sys.exit(4)


def constant(name):
    raise ValueError(f"{name} is not JSON")


def check(value, depth=0):
    if isinstance(value, (list, dict)):
        if depth >= MAX_DEPTH:
            refuse(f"nests arrays and objects deeper than {MAX_DEPTH} levels")
        for item in value.values() if isinstance(value, dict) else value:
            check(item, depth + 1)
    elif isinstance(value, int) and not isinstance(value, bool):
        try:
            float(value)
        except OverflowError:
            refuse("holds a number too large for a double")


def opened(work):
    flags = os.O_RDONLY | os.O_NOFOLLOW
    folder = os.open(work, os.O_RDONLY | os.O_DIRECTORY)
    try:
        outputs = os.open("outputs", flags | os.O_DIRECTORY, dir_fd=folder)
        try:
            return os.open("result.json", flags | os.O_NONBLOCK, dir_fd=outputs)
        finally:
            os.close(outputs)
    finally:
        os.close(folder)


try:
    fd = opened(sys.argv[1])
except (FileNotFoundError, NotADirectoryError):
    sys.exit(3)
except OSError as error:
    if error.errno == errno.ELOOP:
        refuse("is a link, or under one: a result is a file the notebook writes")
    raise
with os.fdopen(fd, "rb") as f:
    if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
        refuse("is not a regular file")
    data = f.read(MAX_BYTES + 1)
if len(data) > MAX_BYTES:
    refuse(f"is larger than {MAX_BYTES} bytes, the most a result may be")
try:
    value = json.loads(data.decode("utf-8"), parse_constant=constant)
except (UnicodeDecodeError, ValueError, RecursionError) as error:
    refuse(f"is not JSON: {str(error)[:200]}")
check(value)
try:
    compact = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
except UnicodeEncodeError:
    refuse("is not JSON: it holds a lone surrogate (\\ud800, say)")
if len(compact) > MAX_BYTES:
    refuse(f"is {len(compact)} bytes as compact JSON, more than {MAX_BYTES}")
with open(sys.argv[2], "wb") as f:
    f.write(compact)
