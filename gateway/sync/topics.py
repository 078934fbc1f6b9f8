"""Every MQTT topic of the box <-> head office contract, built in one place.

Pure: strings only. The root is configurable (`mqtt.root_topic`); below it, store-wide
topics are `{store}/...` and one box's topics are `{store}/{box}/...`. Head office's own
presence lives under `_office`, which no store id can spell (ids start with a letter or
digit), so it never collides with a store.
"""

from __future__ import annotations

from dataclasses import dataclass

HEAD_OFFICE_LEVEL = "_office"


@dataclass(frozen=True)
class Topics:
    """The topics one box publishes to and subscribes to."""

    root: str
    store: str
    box: str

    @property
    def box_prefix(self) -> str:
        return f"{self.root}/{self.store}/{self.box}"

    # up
    @property
    def journal(self) -> str:
        return f"{self.box_prefix}/journal"

    @property
    def events(self) -> str:
        return f"{self.box_prefix}/events"

    @property
    def telemetry(self) -> str:
        return f"{self.box_prefix}/telemetry"

    @property
    def state(self) -> str:
        return f"{self.box_prefix}/state"

    @property
    def command_result(self) -> str:
        return f"{self.box_prefix}/cmd/result"

    # down
    @property
    def ack(self) -> str:
        return f"{self.box_prefix}/ack"

    @property
    def command(self) -> str:
        return f"{self.box_prefix}/cmd"

    @property
    def config(self) -> str:
        return f"{self.box_prefix}/config"

    @property
    def restore(self) -> str:
        """`.../restore/+`: a backup head office sends back, one retained chunk per part
        (`cloud backups send`, read by `gateway restore --from-head-office`)."""
        return f"{self.box_prefix}/restore/+"

    def restore_part(self, part: int) -> str:
        return f"{self.box_prefix}/restore/{part}"

    @property
    def catalog(self) -> str:
        return f"{self.root}/{self.store}/catalog"

    @property
    def members(self) -> str:
        return f"{self.root}/{self.store}/members"

    @property
    def orders(self) -> str:
        """The store's purchase orders to receive against (docs/stock.md)."""
        return f"{self.root}/{self.store}/orders"

    @property
    def staff(self) -> str:
        """Head office's people for the store's boxes (docs/lane.md, "Central staff")."""
        return f"{self.root}/{self.store}/staff"

    @property
    def update(self) -> str:
        """The software version head office wants the store's boxes to run (docs/install.md,
        "Software updates")."""
        return f"{self.root}/{self.store}/update"

    @property
    def head_office_state(self) -> str:
        return f"{self.root}/{HEAD_OFFICE_LEVEL}/state"

    def subscriptions(self) -> list[str]:
        """What the box subscribes to (QoS 1) on every connection.

        The ack comes first: the broker sends retained messages in this order, so head
        office's acknowledged position is known before its presence starts the drain, and
        a restarted box does not re-send what head office already holds.
        """
        return [
            self.ack,
            self.head_office_state,
            self.command,
            self.config,
            self.catalog,
            self.members,
            self.orders,
            self.staff,
            self.update,
        ]

    def document_kind(self, topic: str) -> str | None:
        """The signed document kind a downlink topic carries, or None."""
        kinds = {
            self.catalog: "catalog",
            self.members: "members",
            self.config: "config",
            self.orders: "orders",
            self.staff: "staff",
            self.update: "update",
        }
        return kinds.get(topic)


def journal_wildcard(root: str) -> str:
    """What head office subscribes to for every box's journal (`+/+` = store/box)."""
    return f"{root}/+/+/journal"
