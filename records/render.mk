# records/render: the printable record (an A4 PDF in Vietnamese) from a
# record's JSON. Its own library, so that the PKCS#11 module never links
# cairo or pango; only the tools that print do.
noinst_LTLIBRARIES += records/libkysorender.la
records_libkysorender_la_SOURCES = records/render.c records/render.h \
	records/render_doc.c records/render_int.h records/render_text.c \
	records/render_report.c records/render_report.h records/render_report_registry.c
records_libkysorender_la_CPPFLAGS = $(AM_CPPFLAGS) $(JSONC_CFLAGS) $(PANGOCAIRO_CFLAGS) \
	$(CAIRO_CFLAGS) $(QRENCODE_CFLAGS)
records_libkysorender_la_LIBADD = $(PANGOCAIRO_LIBS) $(CAIRO_LIBS) $(QRENCODE_LIBS) $(JSONC_LIBS)
