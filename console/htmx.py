"""How a page answers htmx: the whole page, or only the named partial it swaps."""

from django.shortcuts import render
from django.utils.cache import patch_vary_headers


def render_page(request, template, context, partial=None):
    """Render ``template``, or only ``template#partial`` when htmx asks for a swap.

    htmx also sends HX-Request when it restores a page missing from its history
    cache, and then swaps the answer into the whole body: that gets the full page.
    """
    if partial and request.htmx and not request.htmx.history_restore_request:
        template = f"{template}#{partial}"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response
