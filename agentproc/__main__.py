from agentproc.cli import main

main()
