# pcsc/: readers, APDUs, BER-TLV, token edges. Knows nothing of PKCS#11.
noinst_LTLIBRARIES += pcsc/libkysopcsc.la
pcsc_libkysopcsc_la_SOURCES = \
	pcsc/tlv.c pcsc/tlv.h \
	pcsc/pkcs15.c pcsc/pkcs15.h \
	pcsc/status.c pcsc/status.h \
	pcsc/apdu.c pcsc/apdu.h \
	pcsc/reader.c pcsc/reader.h \
	pcsc/token.c pcsc/token.h \
	pcsc/piv_edge.c \
	pcsc/vgca_edge.c \
	pcsc/rsa_pad.c pcsc/rsa_pad.h
pcsc_libkysopcsc_la_LIBADD = $(OPENSSL_LIBS) $(PCSC_LIBS)
