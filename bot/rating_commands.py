"""The rating commands: `like`, `dislike`, `unrate` and `taste`, and the buttons of a digest.

A rating belongs to (channel, user, paper), and any member may rate. A typed command sets
or removes a rating; a button toggles: the same button again takes the rating back, the
other one replaces it. Any paper Paperboy can find may be rated, posted here or not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.models import CommandContext, Paper, Reply, one_line, paper_id_of
from bot.relevance import MIN_POSITIVES
from bot.source import SourceError
from bot.text import echo, plural

if TYPE_CHECKING:
    from bot.commands import Commands, _Call

TITLE_CHARS = 80
_DONE = {1: "👍 You liked", -1: "👎 You disliked"}


def _named(paper: Paper) -> str:
    title = one_line(paper.title)
    return f"{paper.id} ({title[: TITLE_CHARS - 1] + '…' if len(title) > TITLE_CHARS else title})"


async def find(commands: Commands, raw: str, command: str) -> Paper | Reply:
    """The paper a user or a button named, or the one-line answer saying why not."""
    paper_id = paper_id_of(raw)
    if paper_id is None:
        return Reply(f"'{echo(raw)}' is not an arXiv id. Example: /{command} like 2410.18978", ok=False)
    try:
        paper = await commands.ratings.find_paper(paper_id)
    except SourceError:
        return Reply(f"Could not reach Hugging Face to look up {paper_id}; nothing changed. Try again later.", ok=False)
    if paper is None:
        return Reply(f"No paper {paper_id} in Paperboy's store or on Hugging Face: check the arXiv id.", ok=False)
    return paper


async def rate(commands: Commands, ctx: CommandContext, raw: str, vote: int, *, toggle: bool) -> Reply:
    """Set (+1, -1) or remove (0) the user's rating of a paper in the channel; `toggle` for buttons."""
    found = await find(commands, raw, ctx.command)
    if isinstance(found, Reply):
        return found
    paper = found
    channel = await commands.channel_of(ctx)
    store = commands.store
    before = await store.rating(channel.id, ctx.user, paper.id)
    after = None if vote == 0 or (toggle and before == vote) else vote
    if after == before:
        if after is None:
            return Reply(f"You had not rated {paper.id}.")
        return Reply(f"{_DONE[after]} {_named(paper)} already.")
    await store.set_rating(channel.id, ctx.user, paper.id, after, commands.now())
    commands.ratings.changed(channel)
    text = f"{_DONE[after]} {_named(paper)}." if after else f"Took back your rating of {_named(paper)}."
    liked = len((await commands.ratings.labels(channel)).positives)
    if liked < MIN_POSITIVES:
        text += f" {plural(MIN_POSITIVES - liked, 'more 👍', 'more 👍')} and this channel's digests are ranked by its taste."
    return Reply(text)


async def cmd_rate(commands: Commands, call: _Call, vote: int) -> Reply:
    if len(call.args.split()) != 1:
        return Reply(f"Usage: /{call.ctx.command} {call.name} ARXIV_ID", ok=False)
    return await rate(commands, call.ctx, call.args, vote, toggle=False)


async def cmd_taste(commands: Commands, call: _Call) -> Reply:
    action = call.args.lower()
    if action not in ("", "reset"):
        return Reply(f"Usage: /{call.ctx.command} taste [reset]", ok=False)
    channel = await commands.store.channel(call.ctx.key)
    if action == "reset":
        if not call.ctx.can_manage:
            return Reply(f"You need permission to manage this channel to use /{call.ctx.command} taste reset.", ok=False)
        forgotten = await commands.store.forget_ratings(channel.id) if channel else 0
        if not forgotten:
            return Reply("This channel has no ratings to forget.")
        assert channel is not None
        commands.ratings.changed(channel)
        return Reply(
            f"Forgot this channel's {plural(forgotten, 'rating')}: digests are in upvote order again"
            " (like: subscriptions still count as liked).",
            announcement="reset this channel's taste",
        )
    labels = await commands.ratings.labels(channel) if channel else None
    if labels is None or not (labels.ratings or labels.positives):
        return Reply(
            "No ratings here yet. Rate papers with the 👍/👎 buttons under a digest, or "
            f"/{call.ctx.command} like ARXIV_ID; from {MIN_POSITIVES} 👍, digests are ranked by this channel's taste."
        )
    assert channel is not None
    lines = [
        f"{plural(labels.ratings, 'rating')} here: {plural(len(labels.positives), 'paper')} liked,"
        f" {len(labels.negatives)} disliked (like: subscriptions count as liked)."
    ]
    taste = await commands.ratings.taste(channel)
    if taste is None or not taste.ready:
        lines.append(f"Digests stay in upvote order until {MIN_POSITIVES} papers are liked.")
    else:
        lines.append("Digests are ranked by this taste, blended with upvotes.")
    if taste is not None:
        report = taste.report()
        if report.pulls_up:
            lines.append(f"Pulls papers up: {', '.join(report.pulls_up)}")
        if report.pulls_down:
            lines.append(f"Pulls papers down: {', '.join(report.pulls_down)}")
        lines += ["Most liked:", *(f"  {_named(p)}" for p in report.most_liked)]
    return Reply("\n".join(lines))
