# The post-startup script of the demo's instances (`cargo run` with nothing configured): what
# a Workbench instance's script does with its metadata server and Cloud Storage. It runs
# under the Notebooks emulator with --run-scripts; GCE_METADATA_HOST and
# STORAGE_EMULATOR_HOST point at the emulator.
set -eu
md() { curl -sSf -H 'Metadata-Flavor: Google' "http://$GCE_METADATA_HOST/computeMetadata/v1/$1"; }

name=$(md instance/name)
project=$(md project/project-id)
account=$(md instance/service-accounts/default/email)
echo "post-startup script on $name in $(md instance/zone), as $account"

# The bucket this script came from is where its output goes.
bucket=$(md instance/attributes/post-startup-script | sed -e 's|^gs://\([^/]*\)/.*|\1|')
token=$(md instance/service-accounts/default/token | sed -e 's/.*"access_token":"\([^"]*\)".*/\1/')
identity=$(md "instance/service-accounts/default/identity?audience=https://notebook-trigger.demo&format=full")
claims=$(printf '%s' "$identity" | cut -d. -f2 | tr '_-' '/+')
while [ $(( ${#claims} % 4 )) -ne 0 ]; do claims="$claims="; done
echo "identity token for https://notebook-trigger.demo: ${#identity} bytes"

object="runs/$name/hello.txt"
{
  echo "Hello from $name in project $project."
  echo "Its identity token says:"
  printf '%s' "$claims" | base64 -d
  echo
} > hello.txt
curl -sSf -o /dev/null -H "Authorization: Bearer $token" -H 'Content-Type: text/plain' \
  --data-binary @hello.txt \
  "$STORAGE_EMULATOR_HOST/upload/storage/v1/b/$bucket/o?uploadType=media&name=$object"
echo "wrote gs://$bucket/$object"
