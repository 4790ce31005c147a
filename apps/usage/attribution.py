"""Which vault key a vendor's key id belongs to."""

from apps.vault.models import KeyVersion, VendorKey


def key_ids_by_vendor_key_id(vendor: str) -> dict[str, int]:
    """Map each vendor key id the vault knows for ``vendor`` to its vault key.

    A rotated key keeps answering for the vendor ids of its earlier versions, so
    usage reported late on an old id still lands on the key it belonged to.
    """
    mapping = dict(
        KeyVersion.objects.filter(key__vendor=vendor)
        .exclude(vendor_key_id="")
        .order_by("number")
        .values_list("vendor_key_id", "key_id")
    )
    mapping.update(
        VendorKey.objects.filter(vendor=vendor)
        .exclude(vendor_key_id="")
        .values_list("vendor_key_id", "pk")
    )
    return mapping
