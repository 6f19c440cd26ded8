/* PKCS#11: the 2.40 definitions from p11-kit's header, plus the 3.0
 * additions kyso uses (interfaces, C_LoginUser, C_SessionCancel, the
 * message functions, profiles), which that header does not have yet. */
#ifndef KYSO_PKCS11_PKCS11_H
#define KYSO_PKCS11_PKCS11_H

#include <p11-kit/pkcs11.h>

#ifndef CKF_INTERFACE_FORK_SAFE
#define CKF_INTERFACE_FORK_SAFE 0x00000001UL

typedef struct CK_INTERFACE {
    CK_CHAR *pInterfaceName;
    CK_VOID_PTR pFunctionList;
    CK_FLAGS flags;
} CK_INTERFACE;
typedef CK_INTERFACE *CK_INTERFACE_PTR;
typedef CK_INTERFACE_PTR *CK_INTERFACE_PTR_PTR;

#define CKF_END_OF_MESSAGE 0x00000001UL
#define CKF_FIND_OBJECTS 0x00400000UL /* C_SessionCancel */
#define CKR_OPERATION_CANCEL_FAILED 0x00000202UL

/* Profiles (PKCS#11 3.0 §4.13) */
#define CKO_PROFILE 0x00000009UL
#define CKA_PROFILE_ID 0x00000601UL
#define CKP_INVALID_ID 0x00000000UL
#define CKP_BASELINE_PROVIDER 0x00000001UL
#define CKP_EXTENDED_PROVIDER 0x00000002UL
#define CKP_AUTHENTICATION_TOKEN 0x00000003UL
#define CKP_PUBLIC_CERTIFICATES_TOKEN 0x00000004UL

struct CK_FUNCTION_LIST_3_0;
typedef struct CK_FUNCTION_LIST_3_0 CK_FUNCTION_LIST_3_0;
typedef CK_FUNCTION_LIST_3_0 *CK_FUNCTION_LIST_3_0_PTR;
typedef CK_FUNCTION_LIST_3_0_PTR *CK_FUNCTION_LIST_3_0_PTR_PTR;

#define KYSO_P11_3_0_FUNCTIONS(X)                                                                               \
    X(C_GetInterfaceList, (CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount))                           \
    X(C_GetInterface, (CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion, CK_INTERFACE_PTR_PTR ppInterface, \
                       CK_FLAGS flags))                                                                         \
    X(C_LoginUser, (CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen,  \
                    CK_UTF8CHAR_PTR pUsername, CK_ULONG ulUsernameLen))                                         \
    X(C_SessionCancel, (CK_SESSION_HANDLE hSession, CK_FLAGS flags))                                            \
    X(C_MessageEncryptInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey))    \
    X(C_EncryptMessage, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,             \
                         CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pPlaintext,     \
                         CK_ULONG ulPlaintextLen, CK_BYTE_PTR pCiphertext, CK_ULONG_PTR pulCiphertextLen))      \
    X(C_EncryptMessageBegin, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,        \
                              CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen))                       \
    X(C_EncryptMessageNext, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,         \
                             CK_BYTE_PTR pPlaintextPart, CK_ULONG ulPlaintextPartLen, CK_BYTE_PTR pCiphertextPart, \
                             CK_ULONG_PTR pulCiphertextPartLen, CK_FLAGS flags))                                \
    X(C_MessageEncryptFinal, (CK_SESSION_HANDLE hSession))                                                      \
    X(C_MessageDecryptInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey))    \
    X(C_DecryptMessage, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,             \
                         CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pCiphertext,    \
                         CK_ULONG ulCiphertextLen, CK_BYTE_PTR pPlaintext, CK_ULONG_PTR pulPlaintextLen))       \
    X(C_DecryptMessageBegin, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,        \
                              CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen))                       \
    X(C_DecryptMessageNext, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,         \
                             CK_BYTE_PTR pCiphertextPart, CK_ULONG ulCiphertextPartLen, CK_BYTE_PTR pPlaintextPart, \
                             CK_ULONG_PTR pulPlaintextPartLen, CK_FLAGS flags))                                 \
    X(C_MessageDecryptFinal, (CK_SESSION_HANDLE hSession))                                                      \
    X(C_MessageSignInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey))       \
    X(C_SignMessage, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,                \
                      CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)) \
    X(C_SignMessageBegin, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen))         \
    X(C_SignMessageNext, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,            \
                          CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,                        \
                          CK_ULONG_PTR pulSignatureLen))                                                        \
    X(C_MessageSignFinal, (CK_SESSION_HANDLE hSession))                                                         \
    X(C_MessageVerifyInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey))     \
    X(C_VerifyMessage, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,              \
                        CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)) \
    X(C_VerifyMessageBegin, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen))       \
    X(C_VerifyMessageNext, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,          \
                            CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)) \
    X(C_MessageVerifyFinal, (CK_SESSION_HANDLE hSession))

#define KYSO_P11_DECLARE(name, args) CK_RV name args;
KYSO_P11_3_0_FUNCTIONS(KYSO_P11_DECLARE)
#undef KYSO_P11_DECLARE

/* The 2.40 list followed by the 3.0 functions, in the standard's order. */
struct CK_FUNCTION_LIST_3_0 {
    CK_VERSION version;
#define KYSO_P11_MEMBER(name, args) CK_RV (*name) args;
#define KYSO_P11_MEMBER_240(name) __typeof__(name) *name;
    KYSO_P11_MEMBER_240(C_Initialize)
    KYSO_P11_MEMBER_240(C_Finalize)
    KYSO_P11_MEMBER_240(C_GetInfo)
    KYSO_P11_MEMBER_240(C_GetFunctionList)
    KYSO_P11_MEMBER_240(C_GetSlotList)
    KYSO_P11_MEMBER_240(C_GetSlotInfo)
    KYSO_P11_MEMBER_240(C_GetTokenInfo)
    KYSO_P11_MEMBER_240(C_GetMechanismList)
    KYSO_P11_MEMBER_240(C_GetMechanismInfo)
    KYSO_P11_MEMBER_240(C_InitToken)
    KYSO_P11_MEMBER_240(C_InitPIN)
    KYSO_P11_MEMBER_240(C_SetPIN)
    KYSO_P11_MEMBER_240(C_OpenSession)
    KYSO_P11_MEMBER_240(C_CloseSession)
    KYSO_P11_MEMBER_240(C_CloseAllSessions)
    KYSO_P11_MEMBER_240(C_GetSessionInfo)
    KYSO_P11_MEMBER_240(C_GetOperationState)
    KYSO_P11_MEMBER_240(C_SetOperationState)
    KYSO_P11_MEMBER_240(C_Login)
    KYSO_P11_MEMBER_240(C_Logout)
    KYSO_P11_MEMBER_240(C_CreateObject)
    KYSO_P11_MEMBER_240(C_CopyObject)
    KYSO_P11_MEMBER_240(C_DestroyObject)
    KYSO_P11_MEMBER_240(C_GetObjectSize)
    KYSO_P11_MEMBER_240(C_GetAttributeValue)
    KYSO_P11_MEMBER_240(C_SetAttributeValue)
    KYSO_P11_MEMBER_240(C_FindObjectsInit)
    KYSO_P11_MEMBER_240(C_FindObjects)
    KYSO_P11_MEMBER_240(C_FindObjectsFinal)
    KYSO_P11_MEMBER_240(C_EncryptInit)
    KYSO_P11_MEMBER_240(C_Encrypt)
    KYSO_P11_MEMBER_240(C_EncryptUpdate)
    KYSO_P11_MEMBER_240(C_EncryptFinal)
    KYSO_P11_MEMBER_240(C_DecryptInit)
    KYSO_P11_MEMBER_240(C_Decrypt)
    KYSO_P11_MEMBER_240(C_DecryptUpdate)
    KYSO_P11_MEMBER_240(C_DecryptFinal)
    KYSO_P11_MEMBER_240(C_DigestInit)
    KYSO_P11_MEMBER_240(C_Digest)
    KYSO_P11_MEMBER_240(C_DigestUpdate)
    KYSO_P11_MEMBER_240(C_DigestKey)
    KYSO_P11_MEMBER_240(C_DigestFinal)
    KYSO_P11_MEMBER_240(C_SignInit)
    KYSO_P11_MEMBER_240(C_Sign)
    KYSO_P11_MEMBER_240(C_SignUpdate)
    KYSO_P11_MEMBER_240(C_SignFinal)
    KYSO_P11_MEMBER_240(C_SignRecoverInit)
    KYSO_P11_MEMBER_240(C_SignRecover)
    KYSO_P11_MEMBER_240(C_VerifyInit)
    KYSO_P11_MEMBER_240(C_Verify)
    KYSO_P11_MEMBER_240(C_VerifyUpdate)
    KYSO_P11_MEMBER_240(C_VerifyFinal)
    KYSO_P11_MEMBER_240(C_VerifyRecoverInit)
    KYSO_P11_MEMBER_240(C_VerifyRecover)
    KYSO_P11_MEMBER_240(C_DigestEncryptUpdate)
    KYSO_P11_MEMBER_240(C_DecryptDigestUpdate)
    KYSO_P11_MEMBER_240(C_SignEncryptUpdate)
    KYSO_P11_MEMBER_240(C_DecryptVerifyUpdate)
    KYSO_P11_MEMBER_240(C_GenerateKey)
    KYSO_P11_MEMBER_240(C_GenerateKeyPair)
    KYSO_P11_MEMBER_240(C_WrapKey)
    KYSO_P11_MEMBER_240(C_UnwrapKey)
    KYSO_P11_MEMBER_240(C_DeriveKey)
    KYSO_P11_MEMBER_240(C_SeedRandom)
    KYSO_P11_MEMBER_240(C_GenerateRandom)
    KYSO_P11_MEMBER_240(C_GetFunctionStatus)
    KYSO_P11_MEMBER_240(C_CancelFunction)
    KYSO_P11_MEMBER_240(C_WaitForSlotEvent)
    KYSO_P11_3_0_FUNCTIONS(KYSO_P11_MEMBER)
#undef KYSO_P11_MEMBER
#undef KYSO_P11_MEMBER_240
};

#endif /* CKF_INTERFACE_FORK_SAFE */

#endif
