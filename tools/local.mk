# tools/: kyso-vtoken, the tokens emulated in software for tests and demos.
bin_PROGRAMS += tools/kyso-vtoken
tools_kyso_vtoken_SOURCES = \
	tools/vtoken/main.c \
	tools/vtoken/card.c tools/vtoken/card.h \
	tools/vtoken/server.c tools/vtoken/server.h \
	tools/vtoken/state_file.c tools/vtoken/state_file.h \
	tools/vtoken/piv.c tools/vtoken/piv.h \
	tools/vtoken/piv_state.c tools/vtoken/piv_crypto.c
tools_kyso_vtoken_LDADD = pcsc/libkysopcsc.la $(OPENSSL_LIBS)
