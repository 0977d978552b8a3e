/* Macro stand-ins for cppcheck only: OpenSSL's ASN.1 and stack macros,
 * which cppcheck cannot expand without the system headers. */
#define DECLARE_ASN1_FUNCTIONS(t)
#define DEFINE_STACK_OF(t)
#define STACK_OF(t) struct stack_st_##t
#define DECLARE_ASN1_ITEM(t)
