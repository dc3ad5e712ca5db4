#!/usr/bin/env bash
# Size budget: hand-written Swift files stay under 500 lines (generated code is exempt).
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
while IFS= read -r file; do
  [[ -f "$file" ]] || continue  # deleted but not yet committed
  lines=$(wc -l < "$file")
  if (( lines > 500 )); then echo "file size: $file has $lines lines (budget 500)"; status=1; fi
done < <(git ls-files --cached --others --exclude-standard -- 'Sources/*.swift' 'Tests/*.swift' | grep -v '/Generated/')
[[ $status == 0 ]] && echo "file size: ok"
exit $status
