# Sourced by the scripts that compile llama.cpp: how it is compiled here and where builds are kept.
# Compiled for this CPU (-march=native), but without AMX: some virtual machines list AMX in /proc/cpuinfo
# yet stop the process at its first AMX instruction ("Illegal instruction", seen on 2026-11-30).
LLAMA_CPU_FLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
# A build is kept per version and CPU: one compiled on another CPU may use instructions this one lacks.
LLAMA_CPU_KEY=$( (grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || uname -m; echo "$LLAMA_CPU_FLAGS") \
  | sha256sum | cut -c1-12)
LLAMA_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/support-agent"
