#!/usr/bin/env python3
"""Summarize libFuzzer campaign logs: target, runs, seconds, exec/s, cov start->end, corpus, crashes."""
import re, sys, glob, os
rows = []
for path in sys.argv[1:]:
    t = os.path.basename(path)[:-4]
    text = open(path, errors='replace').read()
    init = re.search(r'#\d+\s+INITED cov: (\d+) ft: (\d+) corp: (\d+)', text)
    lines = [l for l in text.splitlines() if re.match(r'#\d+\s', l) and 'cov:' in l]
    last = lines[-1] if lines else ''
    cov_end = re.search(r'cov: (\d+)', last)
    corp_end = re.search(r'corp: (\d+)/(\S+)', last)
    done = re.search(r'Done (\d+) runs in (\d+) second', text)
    stats = dict(re.findall(r'stat::(\w+):\s+(\d+)', text))
    crash = len(re.findall(r'==\d+== ERROR: libFuzzer|deadly signal|panicked at', text))
    timeout = len(re.findall(r'ALARM: working on the last Unit for', text))
    oom = len(re.findall(r'out-of-memory \(', text))
    runs = int(stats.get('number_of_executed_units', done.group(1) if done else 0))
    secs = int(done.group(2)) if done else None
    eps = stats.get('average_exec_per_sec')
    rows.append((t, runs, secs, eps, init.group(1) if init else '?', cov_end.group(1) if cov_end else '?',
                 init.group(3) if init else '?', corp_end.group(1) if corp_end else '?', crash, timeout, oom))
print('| target | executions | seconds | exec/s | coverage (edges) start -> end | corpus start -> end | crashes | timeouts | OOM |')
print('|---|---:|---:|---:|---:|---:|---:|---:|---:|')
for r in rows:
    print(f'| {r[0]} | {r[1]:,} | {r[2]} | {r[3]} | {r[4]} -> {r[5]} | {r[6]} -> {r[7]} | {r[8]} | {r[9]} | {r[10]} |')
