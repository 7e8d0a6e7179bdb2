# The run's parameters as papermill reads them, and their names for the log.
#
# papermill reads its parameters file (-f) as YAML 1.1, which is not quite JSON: a float that
# JSON writes as 1e-06 is the string "1e-06" there, and some characters JSON leaves unescaped
# (U+007F, U+0085, U+FFFE) are refused or read as something else. So the JSON the service wrote
# (argv[1]) is written again by PyYAML, papermill's own YAML library, which reads back exactly
# what it writes (argv[2]). Prints the parameters' names, quoted: never their values, which may
# be secrets.
import json
import shutil
import sys

source, target = sys.argv[1], sys.argv[2]
with open(source, encoding="utf-8") as f:
    parameters = json.load(f)
try:
    import yaml
except ImportError:
    # papermill needs PyYAML; a python3 without it is not the one that runs papermill.
    shutil.copyfile(source, target)
else:
    with open(target, "w", encoding="utf-8") as f:
        yaml.safe_dump(parameters, f)
if isinstance(parameters, dict):
    print(", ".join(map(json.dumps, parameters)) or "none")
else:
    print("(not an object)")
