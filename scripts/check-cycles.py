#!/usr/bin/env python3
"""Fails when two source files, or two top-level modules, import each other
(directly or through a cycle): the layering rule of DESIGN.md ("no circles
between modules"). It resolves `crate::`/`super::` paths, `use` lists,
`pub use` re-exports and references to child modules to the files that
define them; test modules are ignored. Heuristic (it reads text, not the
compiler's graph), so it reports paths, not proofs: read the lines it names.
"""
import os,re,sys,collections
ROOT=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src')
files=[]
for d,_,fs in os.walk(ROOT):
    for f in fs:
        if f.endswith('.rs'): files.append(os.path.join(d,f))
def modpath(f):
    rel=os.path.relpath(f,ROOT)[:-3].split('/')
    if rel[-1]=='mod': rel=rel[:-1]
    if rel in (['lib'],['main']): rel=[]
    return rel
bymod={tuple(modpath(f)):f for f in files}
def resolve(parts):
    # longest prefix that is a module file
    for n in range(len(parts),0,-1):
        if tuple(parts[:n]) in bymod: return bymod[tuple(parts[:n])]
    return None
g=collections.defaultdict(set)
for f in files:
    me=modpath(f)
    text=open(f).read()
    text=re.sub(r'//[^\n]*','',text)
    text=re.sub(r'pub\(in [^)]*\)','pub',text)
    # cut tests
    i=text.find('#[cfg(test)]')
    if i>=0: text=text[:i]
    for m in re.finditer(r'\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)+)(::\{([^}]*)\})?',text):
        base=m.group(1); rest=[p for p in m.group(2).split('::') if p]
        if base=='crate': parts=rest
        else:
            parent=me[:-1] if not f.endswith('mod.rs') else me[:-1]
            # super from x/y.rs -> x ; from x/y/mod.rs -> x
            parts=parent+rest
            while parts and parts[0]=='super': parts=parts[1:]
        # A `{a, b}` list depends on what each item resolves to (a child module,
        # or the parent itself for an item it defines), not on the parent as such.
        cands=[] if m.group(4) else [parts]
        if m.group(4):
            for item in m.group(4).split(','):
                item=item.strip().split(' ')[0].split('::')
                if item and item[0] == 'self': cands.append(parts)
                elif item and item[0]: cands.append(parts+item)
        for c in cands:
            t=resolve(c)
            if t and t!=f: g[f].add(t)
    children=re.findall(r'^\s*(?:pub(?:\([a-z]+\))? )?mod ([a-z_0-9]+);',text,re.M)
    for ch in children:
        body=re.sub(r'^\s*(?:pub(?:\([a-z]+\))? )?mod [a-z_0-9]+;','',text,flags=re.M)
        if re.search(r'(?<![A-Za-z0-9_:])'+ch+r'::',body):
            t=resolve(me+[ch])
            if t and t!=f: g[f].add(t)
index={};low={};st=[];on=set();res=[];i=[0]
sys.setrecursionlimit(10000)
def sc(v):
    index[v]=low[v]=i[0];i[0]+=1;st.append(v);on.add(v)
    for w in g[v]:
        if w not in index: sc(w);low[v]=min(low[v],low[w])
        elif w in on: low[v]=min(low[v],index[w])
    if low[v]==index[v]:
        comp=[]
        while True:
            w=st.pop();on.discard(w);comp.append(w)
            if w==v:break
        if len(comp)>1:res.append(comp)
for v in list(g):
    if v not in index: sc(v)
for c in res:
    print('CYCLE:')
    s=set(c)
    for a in sorted(c):
        print('  ',os.path.relpath(a,ROOT),'->',sorted(os.path.relpath(b,ROOT) for b in g[a]&s))

top_cycles = []
def top(f):
    return os.path.relpath(f, ROOT).split('/')[0].replace('.rs', '')
tg = collections.defaultdict(set)
for a, bs in g.items():
    for b in bs:
        if top(a) != top(b):
            tg[top(a)].add(top(b))
index2, low2, st2, on2, cnt = {}, {}, [], set(), [0]
def sc2(v):
    index2[v] = low2[v] = cnt[0]; cnt[0] += 1; st2.append(v); on2.add(v)
    for w in tg[v]:
        if w not in index2:
            sc2(w); low2[v] = min(low2[v], low2[w])
        elif w in on2:
            low2[v] = min(low2[v], index2[w])
    if low2[v] == index2[v]:
        comp = []
        while True:
            w = st2.pop(); on2.discard(w); comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            top_cycles.append(comp)
for v in list(tg):
    if v not in index2:
        sc2(v)
for c in top_cycles:
    print('MODULE CYCLE:', ' <-> '.join(sorted(c)))
if res or top_cycles:
    sys.exit(1)
print(f"no import cycles between {len(files)} source files or their top-level modules")
