from jupyterhub_onboarding.app import main

main()
