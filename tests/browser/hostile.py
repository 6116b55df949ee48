"""A valid project whose every free-text field tries to run script in the reader's browser.

Used by tests/test_render.py (no executable markup in any page) and by the
browser tests (no script runs even with the Content-Security-Policy bypassed).
Every payload would set `window.__pwned` or open a dialog if it ever ran.
"""

from __future__ import annotations

SCRIPT = "<script>window.__pwned=1;alert(1)</script>"
IMAGE = "<img src=x onerror=\"window.__pwned=1;alert(2)\">"
SVG = "<svg onload=\"window.__pwned=1\"></svg>"

PROJECT = f"""\
title: 'Brand {SCRIPT} in social media'
language: en
timezone: Europe/Moscow
start: 2026-01-01
units:
  agency:    {{ name: 'Agency {IMAGE}', external: true }}
  marketing: {{ name: 'Marketing {SVG}' }}
  board:     {{ name: "Board" }}
people:
  petrov:
    name: 'Oleg {SCRIPT}'
    unit: board
    executive: true
    email: 'petrov@x.example'

  smirnova: {{ name: 'Anna {IMAGE}', unit: marketing }}
  ivanov:   {{ name: 'Pavel " onmouseover="window.__pwned=1', unit: agency }}
"""

GOAL = f"""\
---
title: 'Goal {SCRIPT}'
owner: smirnova
start: 2026-01-01
due: 2026-12-31
kpis:
  - id: leads
    name: 'Leads {IMAGE}'
    unit: '<b onclick=alert(3)>leads</b>'
    baseline: 10
    target: 20
readings:
  - {{ kpi: leads, date: 2026-02-01, value: 11 }}
approved: {{ by: petrov, date: 2026-01-05 }}
---
# Heading {SCRIPT}

{SCRIPT}

{IMAGE}

<a href="javascript:alert(4)">raw link</a>

[script link](javascript:window.__pwned=1)
[data link](data:text/html;base64,PHNjcmlwdD5hbGVydCg1KTwvc2NyaXB0Pg==)
[vbscript link](vbscript:msgbox(6))
[spaced scheme]( JaVaScRiPt:alert(7))
[encoded scheme](jav&#x09;ascript:alert(8))
![image](javascript:alert(9))
<https://example.com/" onmouseover="window.__pwned=1>

| a | b |
|---|---|
| <script>x</script> | `<img src=x onerror=alert(10)>` |
"""

CHANGE = f"""\
---
title: 'Change {IMAGE}'
goal: attack
proposed_by: ivanov
date: 2026-03-01
set:
  title: 'New {SCRIPT}'
  kpis:
    - {{ id: leads, name: 'KPI {SVG}', baseline: 10, target: 30 }}
---
Because {SCRIPT}.
"""

REVIEW = f"""\
---
month: 2026-03
reviewer: petrov
date: 2026-03-20
pages: [ 'https://vk.com/x?a=1&b=2#c' ]
likes: [ 'Like {SCRIPT}' ]
dislikes: [ 'Dislike {IMAGE}' ]
feedback_to: [ smirnova ]
---
Feedback {SVG}
"""

DISPUTE = f"""\
---
title: 'Dispute {SCRIPT}'
raised_by: ivanov
date: 2026-03-10
parties:
  - person: ivanov
    position: 'Position {IMAGE}'
  - person: smirnova
    position: 'Other {SCRIPT}'
---
Context <iframe src="javascript:alert(12)"></iframe>
"""

FILES: dict[str, str] = {
    "project.yml": PROJECT,
    "goals/attack.md": GOAL,
    "changes/attack-change.md": CHANGE,
    "reviews/review-2026-03.md": REVIEW,
    "disputes/attack-dispute.md": DISPUTE,
}
TODAY = "2026-03-25"
