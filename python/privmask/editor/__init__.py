"""The mask editor: ``privmask edit SOURCE`` draws masks on a camera picture in the browser.

A local web page (Starlette + uvicorn on 127.0.0.1, behind a random token) shows a frame of a
video, an image or a live stream at its real resolution; masks are drawn as polygons,
rectangles or grid cells, styled, ordered, and previewed by the real engine
(:func:`privmask.apply` on the decoded picture). Saving writes the JSON mask set (or appends a
timeline version) atomically. Rooms: :mod:`~privmask.editor.source` (pictures),
:mod:`~privmask.editor.files` (the mask file), :mod:`~privmask.editor.session` (what the page
asks for), :mod:`~privmask.editor.server` (HTTP), :mod:`privmask.cli.edit` (the command).

Needs the ``editor`` extra; :mod:`privmask` does not import this package.
"""
