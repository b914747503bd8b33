"""The pairing URI as a QR code, in SVG: a wallet's camera reads it from the UI, and SVG scales
without blurring and embeds in the page as text (no image files, no Pillow)."""

from __future__ import annotations

import qrcode  # type: ignore[import-untyped]
import qrcode.image.svg  # type: ignore[import-untyped]


def qr_svg(uri: str) -> str:
    """One <svg> element; error correction M, as wallets' scanners expect from dApps."""
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        image_factory=qrcode.image.svg.SvgPathImage,
        border=4,
    )
    code.add_data(uri)
    code.make(fit=True)
    svg: bytes | str = code.make_image().to_string(encoding="unicode")
    return svg if isinstance(svg, str) else svg.decode("utf-8")
