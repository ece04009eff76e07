#!/bin/bash
# Watches the `concbench serve threads... http` servers that a concurrent `make gil-convoy` (or any run of the
# threads runner on http) starts, and reports what a GIL convoy looks like from outside. Reads /proc only; stops
# by itself after SECONDS (default 120); touches no process but to read it (and py-spy's dump, if installed).
#
#   tools/watch_convoy.sh [SECONDS] > watch.log &  make gil-convoy;  wait; cat watch.log
#
# Every 0.2 s: thread count, the listen backlog (Recv-Q), threads by state (R runnable, S sleeping), CPU ticks
# and context switches summed over threads. Once a server has kept the same thread count (900-1040) for 1 s,
# it also samples its main (accepting) thread for 2 s: its state every 0.1 s and the CPU ticks it got against
# the whole process's, then `py-spy dump --native` of the main thread if py-spy is on PATH.
END=$(( $(date +%s) + ${1:-120} ))
PATTERN="concbench serve threads[a-z0-9-]* http"
declare -A STUCK_SEEN
while [ "$(date +%s)" -lt "$END" ]; do
  PID=$(pgrep -f "$PATTERN" | head -1)
  if [ -z "$PID" ]; then sleep 0.1; continue; fi
  PORT=$(ss -ltnp 2>/dev/null | grep "pid=$PID," | awk '{print $4}' | rev | cut -d: -f1 | rev | head -1)
  N=$(ls /proc/"$PID"/task 2>/dev/null | wc -l)
  BACKLOG=$(ss -ltn "sport = :$PORT" 2>/dev/null | tail -1 | awk '{print $2}')
  STATES=$(awk '{print $3}' /proc/"$PID"/task/*/stat 2>/dev/null | sort | uniq -c | tr -s ' \n' ' ')
  TICKS=$(awk '{print $14+$15}' /proc/"$PID"/stat 2>/dev/null)
  SWITCHES=$(cat /proc/"$PID"/task/*/status 2>/dev/null | awk '/ctxt_switches/{s+=$2} END{print s}')
  echo "$(date +%T.%N | cut -c1-11) pid $PID threads $N backlog $BACKLOG states$STATES ticks $TICKS switches $SWITCHES"
  if [ -z "${STUCK_SEEN[$PID]}" ] && [ "$N" -gt 900 ] && [ "$N" -lt 1040 ]; then
    sleep 1
    if [ "$(ls /proc/"$PID"/task 2>/dev/null | wc -l)" = "$N" ]; then
      STUCK_SEEN[$PID]=1
      M0=$(awk '{print $14+$15}' /proc/"$PID"/task/"$PID"/stat); P0=$(awk '{print $14+$15}' /proc/"$PID"/stat)
      S0=$(cat /proc/"$PID"/task/*/status 2>/dev/null | awk '/ctxt_switches/{s+=$2} END{print s}')
      MAIN=""
      for _ in $(seq 1 20); do MAIN="$MAIN$(awk '{print $3}' /proc/"$PID"/task/"$PID"/stat 2>/dev/null)"; sleep 0.1; done
      M1=$(awk '{print $14+$15}' /proc/"$PID"/task/"$PID"/stat); P1=$(awk '{print $14+$15}' /proc/"$PID"/stat)
      S1=$(cat /proc/"$PID"/task/*/status 2>/dev/null | awk '/ctxt_switches/{s+=$2} END{print s}')
      echo "STUCK pid $PID at $N threads for 1 s; over the next 2 s: main thread $((M1 - M0)) CPU ticks, whole" \
           "process $((P1 - P0)) (100 a second = one core), $(( (S1 - S0) / 2 )) context switches a second;" \
           "main thread state every 0.1 s: $MAIN"
      if command -v py-spy > /dev/null; then
        timeout 20 py-spy dump --pid "$PID" --native 2>&1 | awk '/Thread '"$PID"' /,/accept_forever/' | head -14
      fi
    fi
  else
    sleep 0.2
  fi
done
