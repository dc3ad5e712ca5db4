#!/usr/bin/env bash
# The import fence: C modules are owned by one Swift module each, and generic layers import
# nothing of what sits above them. Fails listing every violation.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
# module -> Swift targets allowed to import it
declare -A owners=(
  [CGRPC]="GRPCBridge"
  [CGRPCShim]="GRPCBridge"
  [CBLAS]="Engine"
  [CKernels]="Engine"
  [CSentencePiece]="Tokenizer"
  [CImageCodecs]="Imaging"
)
# target -> modules of ours it must not import
declare -A forbidden=(
  [GRPCBridge]="API Services Daemon Engine Models Scheduler RLHF"
  [Engine]="API Services Daemon GRPCBridge Models Scheduler RLHF GRPCCore"
  [Scheduler]="API Services Daemon GRPCBridge Models RLHF Engine"
  [Checkpoints]="API Services Daemon GRPCBridge Engine Models Scheduler RLHF Tokenizer Imaging GRPCCore"
  [Tokenizer]="API Services Daemon GRPCBridge Engine Models Scheduler RLHF Checkpoints Imaging GRPCCore"
  [Imaging]="API Services Daemon GRPCBridge Engine Models Scheduler RLHF Checkpoints Tokenizer GRPCCore"
  [Models]="API Services Daemon GRPCBridge Scheduler RLHF GRPCCore"
  [API]="Services Daemon GRPCBridge"
  [Services]="Daemon Serving GRPCBridge Engine Models Scheduler Tokenizer Imaging Checkpoints Training Trainer"
  [Serving]="API Services Daemon GRPCBridge GRPCCore Store StoreMapping RLHF Training Trainer"
  [ServingTypes]="API Services Serving Daemon GRPCBridge Engine Models Scheduler RLHF Training Tokenizer Imaging Checkpoints Store StoreMapping GRPCCore"
  [StoreMapping]="API Services Serving Daemon GRPCBridge Engine Models Scheduler RLHF Training Tokenizer Imaging Checkpoints GRPCCore"
  [Store]="API Services Serving ServingTypes StoreMapping Daemon GRPCBridge Engine Models Scheduler RLHF Training Tokenizer Imaging Checkpoints GRPCCore"
  [Training]="API Services Daemon GRPCBridge GRPCCore Store StoreMapping Trainer"
  [Trainer]="API Services Daemon GRPCBridge GRPCCore"
  [Observability]="API Services Serving ServingTypes StoreMapping Daemon GRPCBridge Engine Models Scheduler Store RLHF Training Tokenizer Imaging Checkpoints GRPCCore"
)
imports() { grep -hoE '^\s*(@[A-Za-z_]+\s+)?((public|internal|package|private|fileprivate)\s+)?import\s+[A-Za-z_]+' "$@" 2>/dev/null | awk '{print $NF}' | sort -u; }
for module in "${!owners[@]}"; do
  for dir in Sources/*/; do
    target=$(basename "$dir")
    [[ " ${owners[$module]} " == *" $target "* || "$target" == "$module" ]] && continue
    if grep -rqE "import\s+$module\b" --include='*.swift' "$dir"; then
      echo "import fence: $target imports $module (only ${owners[$module]} may)"; status=1
    fi
  done
done
for target in "${!forbidden[@]}"; do
  [[ -d "Sources/$target" ]] || continue
  mapfile -t used < <(imports $(find "Sources/$target" -name '*.swift'))
  for module in ${forbidden[$target]}; do
    if printf '%s\n' "${used[@]}" | grep -qx "$module"; then
      echo "import fence: $target must not import $module"; status=1
    fi
  done
done
[[ $status == 0 ]] && echo "import fence: ok"
exit $status
