/** oidc-provider ships no types; the tests use it as a real OpenID Provider through a narrow local type. */
declare module 'oidc-provider';
