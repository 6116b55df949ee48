"""Generate a deterministic, SPEC-valid project of N notes for benchmarks and scale tests.

    python benchmarks/generate.py OUT_DIR --notes 5000 [--seed 1]

Notes are goals (with KPIs and readings), changes, reviews and disputes in the
proportions 25/35/15/25, with bodies of 300-800 words: paragraphs, lists, a
table and links to other notes; half of them in Russian.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import random
import shutil
from pathlib import Path

EN_WORDS = str.split(
            "brand audience campaign reach engagement subscribers content calendar agency "
            "marketing customers stories video contest comments replies growth channel "
            "budget quality leads conversion retention feedback weekly monthly target "
            "result team review season launch product tea gift partner community")
RU_WORDS = str.split(
            "бренд аудитория кампания охват вовлечённость подписчики контент календарь "
            "агентство маркетинг клиенты истории видео конкурс комментарии ответы рост "
            "канал бюджет качество заявки конверсия удержание отзыв неделя месяц цель "
            "результат команда проверка сезон запуск продукт чай подарок партнёр")  # noqa: SIM905

UNITS = {"agency": ("Agency", True), "marketing": ("Marketing", False), "pr": ("PR", False),
         "sales": ("Sales", False), "care": ("Customer Care", False), "board": ("Board", False)}
PEOPLE = [("exec-one", "board", True), ("exec-two", "board", True),
          ("mkt-anna", "marketing", False), ("mkt-ivan", "marketing", False),
          ("pr-olga", "pr", False), ("sales-pavel", "sales", False),
          ("care-maria", "care", False), ("agency-dmitry", "agency", False),
          ("agency-alina", "agency", False)]
START = dt.date(2024, 1, 1)
# The benchmark's --today. Like a real log, what is older than a few weeks is settled:
# old goals are closed, old changes and disputes decided; only recent notes wait.
TODAY = dt.date(2026, 11, 26)
SETTLED_BEFORE = TODAY - dt.timedelta(days=21)


def sentence(rng: random.Random, words: tuple[str, ...] | list[str], size: int) -> str:
    text = " ".join(rng.choice(words) for _ in range(size))
    return text[0].upper() + text[1:] + "."


def body(rng: random.Random, russian: bool, links: list[str]) -> str:
    """300-800 words of Markdown: paragraphs, a list, a table, links to other notes."""
    words = RU_WORDS if russian else EN_WORDS
    target = rng.randint(300, 800)
    parts: list[str] = []
    count = 0
    while count < target:
        kind = rng.random()
        if kind < 0.15:
            items = [f"- {sentence(rng, words, rng.randint(4, 10))}" for _ in range(4)]
            parts.append("\n".join(items))
            count += 28
        elif kind < 0.22:
            rows = ["| week | reach | replies |", "|---|---:|---:|"]
            rows += [f"| {i} | {rng.randint(1000, 9000)} | {rng.randint(10, 99)} |"
                     for i in range(1, 6)]
            parts.append("\n".join(rows))
            count += 20
        else:
            paragraph = " ".join(sentence(rng, words, rng.randint(8, 18)) for _ in range(4))
            if links and rng.random() < 0.4:
                paragraph += f" See [the related note]({rng.choice(links)})."
            parts.append(paragraph)
            count += len(paragraph.split())
    return "\n\n".join(parts) + "\n"


def generate(out: Path, notes: int, seed: int = 1) -> Path:
    """Write a project of about `notes` notes into `out` (replaced); returns the root.

    A project this generator already wrote there with the same arguments is kept as it
    is: rewriting thousands of files would only disturb the measurements that follow.
    """
    stamp = out / ".generated"
    recipe = f"{notes} {seed} {hashlib.sha256(Path(__file__).read_bytes()).hexdigest()}"
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == recipe:
        return out
    rng = random.Random(seed)
    if out.exists():
        shutil.rmtree(out)
    for folder in ("goals", "changes", "reviews", "disputes"):
        (out / folder).mkdir(parents=True)
    lines = ['title: "Benchmark holding in social media"', "language: en", "timezone: UTC",
             f"start: {START}", "units:"]
    lines += [f'  {uid}: {{ name: "{name}", external: {str(ext).lower()} }}'
              for uid, (name, ext) in UNITS.items()]
    lines.append("people:")
    lines += [f'  {pid}: {{ name: "{pid.replace("-", " ").title()}", unit: {unit}, '
              f'executive: {str(ex).lower()}, email: {pid}@example.com }}'
              for pid, unit, ex in PEOPLE]
    (out / "project.yml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    executives = [p for p, _u, ex in PEOPLE if ex]
    staff = [p for p, _u, ex in PEOPLE if not ex]
    n_goals = max(1, notes * 25 // 100)
    n_changes = notes * 35 // 100
    n_reviews = notes * 15 // 100
    n_disputes = notes - n_goals - n_changes - n_reviews
    goal_links = [f"../goals/goal-{i:05d}.md" for i in range(min(n_goals, 50))]
    for i in range(n_goals):
        russian = i % 2 == 1
        start = START + dt.timedelta(days=rng.randint(0, 900))
        due = start + dt.timedelta(days=rng.randint(90, 400))
        kpis = []
        readings = []
        for k in range(rng.randint(1, 3)):
            baseline = rng.randint(10, 1000)
            target = baseline * rng.choice((2, 3)) if rng.random() < 0.8 else baseline // 2
            kpis.append(f"  - {{ id: kpi-{k}, name: \"KPI number {k}\", unit: items, "
                        f"baseline: {baseline}, target: {target} }}")
            day = start
            value = baseline
            step = (target - baseline) * 30 / max(1, (due - start).days)
            for _ in range(rng.randint(2, 8)):
                day += dt.timedelta(days=30)
                if day > TODAY:
                    break
                value += round(step * rng.uniform(0.85, 1.3))
                readings.append(f"  - {{ kpi: kpi-{k}, date: {day}, value: {value} }}")
        recent = start > SETTLED_BEFORE
        approved = (f"approved:\n  by: {rng.choice(executives)}\n"
                    f"  date: {start + dt.timedelta(days=3)}\n") \
            if not recent or rng.random() < 0.5 else ""
        status = rng.choice(("achieved", "dropped")) if due < SETTLED_BEFORE else "active"
        title = sentence(rng, RU_WORDS if russian else EN_WORDS, 5).rstrip(".")
        text = (f"---\ntitle: \"{title}\"\nowner: {rng.choice(staff)}\nstart: {start}\n"
                f"due: {due}\nstatus: {status}\nkpis:\n" + "\n".join(kpis) + "\nreadings:\n"
                + "\n".join(readings) + "\n" + approved + "---\n"
                + body(rng, russian, goal_links))
        (out / "goals" / f"goal-{i:05d}.md").write_text(text, encoding="utf-8")
    for i in range(n_changes):
        russian = i % 2 == 1
        goal = rng.randrange(n_goals)
        date = START + dt.timedelta(days=rng.randint(30, (TODAY - START).days))
        decision = ""
        if date < SETTLED_BEFORE or rng.random() < 0.5:
            outcome = rng.choice(("approved", "rejected"))
            decision = (f"decision:\n  outcome: {outcome}\n  by: {rng.choice(executives)}\n"
                        f"  date: {date + dt.timedelta(days=rng.randint(0, 10))}\n")
        title = sentence(rng, RU_WORDS if russian else EN_WORDS, 6).rstrip(".")
        text = (f"---\ntitle: \"{title}\"\ngoal: goal-{goal:05d}\n"
                f"proposed_by: {rng.choice(staff)}\ndate: {date}\nset:\n"
                f"  title: \"{title}\"\n" + decision + "---\n"
                + body(rng, russian, goal_links))
        (out / "changes" / f"change-{i:05d}.md").write_text(text, encoding="utf-8")
    for i in range(n_reviews):
        russian = i % 2 == 1
        month = START + dt.timedelta(days=31 * (i % 36))
        month_text = f"{month.year:04d}-{month.month:02d}"
        date = dt.date(month.year, month.month, 25)
        words = RU_WORDS if russian else EN_WORDS
        text = (f"---\nmonth: {month_text}\nreviewer: {rng.choice(executives)}\ndate: {date}\n"
                f"pages: [\"https://vk.com/brand{i % 7}\"]\n"
                f"likes: [\"{sentence(rng, words, 5)}\"]\n"
                f"dislikes: [\"{sentence(rng, words, 6)}\"]\n"
                f"feedback_to: [{rng.choice(staff)}]\n---\n" + body(rng, russian, goal_links))
        (out / "reviews" / f"review-{i:05d}.md").write_text(text, encoding="utf-8")
    for i in range(n_disputes):
        russian = i % 2 == 1
        date = START + dt.timedelta(days=rng.randint(0, (TODAY - START).days))
        first, second = rng.sample(staff, 2)
        decision = ""
        if date < SETTLED_BEFORE or rng.random() < 0.5:
            decision = (f"decision:\n  by: {rng.choice(executives)}\n"
                        f"  date: {date + dt.timedelta(days=5)}\n"
                        f"  outcome: \"{sentence(rng, EN_WORDS, 8)}\"\n")
        words = RU_WORDS if russian else EN_WORDS
        text = (f"---\ntitle: \"{sentence(rng, words, 6).rstrip('.')}\"\nraised_by: {first}\n"
                f"date: {date}\nparties:\n"
                f"  - {{ person: {first}, position: \"{sentence(rng, words, 8)}\" }}\n"
                f"  - {{ person: {second}, position: \"{sentence(rng, words, 8)}\" }}\n"
                + decision + "---\n" + body(rng, russian, goal_links))
        (out / "disputes" / f"dispute-{i:05d}.md").write_text(text, encoding="utf-8")
    stamp.write_text(recipe, encoding="utf-8")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--notes", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    generate(args.out, args.notes, args.seed)
    print(f"wrote {args.notes} notes to {args.out}")


if __name__ == "__main__":
    main()
