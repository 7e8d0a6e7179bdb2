# papermill exits 138 when the kernel dies, which says nothing of why (and reads as SIGUSR1).
# Run through this (python3 -c "$KERNEL_WATCH" RECORD PAPERMILL-ARGS...), papermill records how
# its kernel ended in the file RECORD ("signal N" or "exit N"), where jupyter_client launches
# kernels locally; else nothing.
import sys
record, kernels = sys.argv[1], []
try:
    from jupyter_client.provisioning import local_provisioner
    launch = local_provisioner.launch_kernel
    def watched(*args, **kwargs):
        kernels.append(launch(*args, **kwargs))
        return kernels[-1]
    local_provisioner.launch_kernel = watched
except Exception:
    pass
sys.argv = ["papermill"] + sys.argv[2:]
try:
    from papermill.cli import papermill
    papermill()
finally:
    code = kernels[-1].poll() if kernels else None
    with open(record, "w") as f:
        f.write("" if code is None else f"signal {-code}" if code < 0 else f"exit {code}")
