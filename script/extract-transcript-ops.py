#!/usr/bin/env python3
"""Extracts agent operations (shell commands and file operations) from public agent transcripts
into Tests/Fixtures/transcripts/ops.jsonl, for `spaces bench prompts`.

Usage: script/extract-transcript-ops.py CHECKOUTS (writes ops.jsonl in the current folder; copy it to
Tests/Fixtures/transcripts/)
CHECKOUTS is a folder holding one checkout per source repository, named OWNER+NAME/repo (e.g.
SWE-agent+SWE-agent/repo); every line written names its source repository and file.
"""
import json, os, re, shlex, subprocess, sys

if len(sys.argv) != 2 or not os.path.isdir(sys.argv[1]):
    sys.exit("usage: script/extract-transcript-ops.py CHECKOUTS (a folder of OWNER+NAME/repo checkouts)")
ROOT = sys.argv[1].rstrip("/")


def checkout(repo):
    """The checkout of OWNER/NAME under ROOT."""
    return ROOT + "/" + repo.replace("/", "+") + "/repo"


ops = []
last_open = 'file'
def add(source, op): ops.append(dict(source=source, **op))
def git_show(repo, path):
    return subprocess.run(["git","-C",repo,"show","HEAD:"+path],capture_output=True,text=True).stdout
def ls(repo, pat):
    out = subprocess.run(["git","-C",repo,"ls-tree","-r","--name-only","HEAD"],capture_output=True,text=True).stdout.split("\n")
    return [p for p in out if re.search(pat,p)]
SWE = checkout("SWE-agent/SWE-agent")
def swe_action(src, action):
    global last_open
    a = action.strip()
    if not a: return
    first = a.split()[0]
    try: words = shlex.split(a.split("\n")[0])
    except ValueError: words = a.split()
    if first == "str_replace_editor" and len(words) >= 3:
        sub, path = words[1], words[2]
        kind = {"view":"readFile","create":"createFile","str_replace":"editFile","insert":"editFile","undo_edit":"editFile"}.get(sub)
        if kind: add(src, {"kind":kind,"path":path}); return
    if first in ("open","goto","scroll_down","scroll_up","search_file","find_file","search_dir","submit","exit_forfeit","exit_cost","skip"):
        if first == "open" and len(words)>1:
            last_open = words[1]; add(src, {"kind":"readFile","path":words[1]})
        elif first == "find_file" and len(words)>1: add(src, {"kind":"shell","command":"find %s -name %s" % (shlex.quote(words[2]) if len(words)>2 else ".", shlex.quote(words[1]))})
        elif first == "search_dir" and len(words)>1: add(src, {"kind":"shell","command":"grep -rn %s %s" % (shlex.quote(words[1]), shlex.quote(words[2]) if len(words)>2 else ".")})
        elif first == "search_file" and len(words)>1: add(src, {"kind":"shell","command":"grep -n %s %s" % (shlex.quote(words[1]), shlex.quote(words[2]) if len(words)>2 else shlex.quote(last_open))})
        return
    if first == "create" and len(words)>1: last_open = words[1]; add(src, {"kind":"createFile","path":words[1]}); return
    if first == "edit": add(src, {"kind":"editFile","path":last_open}); return
    if first in ("connect_start","connect_sendline","connect_exec","debug_start","debug_add_breakpoint","debug_continue","debug_step","debug_exec","debug_stop","connect_stop","decompile","disassemble","exit_context"): return
    add(src, {"kind":"shell","command":a})
for repo, name in [(SWE,"SWE-agent/SWE-agent"),(checkout("lgetter/swe-agent-trajectory-analysis"),"lgetter/swe-agent-trajectory-analysis"),(checkout("apurv-sawant15/SWE-Agent-Trajectory-Analysis"),"apurv-sawant15/SWE-Agent-Trajectory-Analysis"),(checkout("RLin8103/cs598-swe-agent-trajectory-analysis-group8"),"RLin8103/cs598-swe-agent-trajectory-analysis-group8")]:
  for p in ls(repo, r"\.traj$"):
    try: d = json.loads(git_show(repo, p))
    except Exception: continue
    src = name+":"+p
    for step in d.get("trajectory", []):
        swe_action(src, step.get("action",""))
MINI=checkout("SWE-agent/mini-swe-agent")
for p in ls(MINI, r"\.traj\.json$"):
    d = json.loads(git_show(MINI, p))
    src = "SWE-agent/mini-swe-agent:"+p
    msgs = d if isinstance(d, list) else d.get("messages", [])
    for m in msgs:
        if m.get("role") == "assistant":
            for block in re.findall(r"```(?:bash|mswea_bash_command)\n(.*?)\n```", m.get("content") or "", re.S):
                add(src, {"kind":"shell","command":block})
OH=checkout("All-Hands-AI/OpenHands")
def oh_history(src, hist):
    for ev in hist:
        if not isinstance(ev, dict) or ev.get("source") != "agent": continue
        act, args = ev.get("action"), ev.get("args", {}) or {}
        if act == "run" and args.get("command"): add(src, {"kind":"shell","command":args["command"]})
        elif act == "read" and args.get("path"): add(src, {"kind":"readFile","path":args["path"]})
        elif act == "edit" and args.get("path"):
            cmd = args.get("command")
            kind = {"create":"createFile","view":"readFile"}.get(cmd, "editFile")
            add(src, {"kind":kind,"path":args["path"]})
        elif act == "write" and args.get("path"): add(src, {"kind":"createFile","path":args["path"]})
for p in ls(OH, r"output\.jsonl$"):
    src = "All-Hands-AI/OpenHands:"+p
    for line in git_show(OH, p).split("\n"):
        if not line.strip(): continue
        try: d = json.loads(line)
        except Exception: continue
        oh_history(src, d.get("history", []))
for extra in sys.argv[1:]:
    pass
def rel(p):
    for pre in ["/testbed/", "/workspace/", "/repo/"]:
        if p.startswith(pre): p = p[len(pre):]; break
    else:
        m = re.match(r"^/[A-Za-z0-9_.-]+__[A-Za-z0-9_.-]+/(.*)$", p) or re.match(r"^/workspace/[^/]+/(.*)$", p)
        if m: p = m.group(1)
    if p.startswith("/workspace/"): p = p.split("/",3)[-1]
    return p.lstrip("/") or "."
with open("ops.jsonl","w") as f:
    for o in ops:
        if "path" in o: o["path"] = rel(o["path"])
        f.write(json.dumps(o, ensure_ascii=False)+"\n")
from collections import Counter
print(len(ops), Counter(o["source"].split(":")[0] for o in ops), Counter(o["kind"] for o in ops))
